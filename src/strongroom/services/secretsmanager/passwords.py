"""GetRandomPassword: AWS's character classes and defaults, drawn with `secrets`.

By default a password is 32 characters of upper- and lowercase letters,
digits and the punctuation ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~``, with at
least one character of each included class (RequireEachIncludedType);
IncludeSpace adds the space, which is never required.
"""

from __future__ import annotations

import secrets
import string

from strongroom.services.secretsmanager.service import errors

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
DEFAULT_LENGTH = 32


def generate(
    length: int = DEFAULT_LENGTH,
    *,
    exclude_characters: str = "",
    exclude_numbers: bool = False,
    exclude_punctuation: bool = False,
    exclude_uppercase: bool = False,
    exclude_lowercase: bool = False,
    include_space: bool = False,
    require_each_included_type: bool = True,
) -> str:
    excluded = set(exclude_characters)
    classes = [
        chars
        for chars, skip in (
            (string.ascii_lowercase, exclude_lowercase),
            (string.ascii_uppercase, exclude_uppercase),
            (string.digits, exclude_numbers),
            (PUNCTUATION, exclude_punctuation),
        )
        if not skip
    ]
    classes = ["".join(c for c in chars if c not in excluded) for chars in classes]
    classes = [chars for chars in classes if chars]
    pool = "".join(classes)
    if include_space and " " not in excluded:
        pool += " "
    if not pool:
        raise errors.InvalidParameterException(
            "The password can't be generated: every character type is excluded."
        )
    required = classes if require_each_included_type else []
    if len(required) > length:
        raise errors.InvalidParameterException(
            f"The password length {length} is too short to include a character of each of "
            f"the {len(required)} required character types."
        )
    chosen = [secrets.choice(chars) for chars in required]
    chosen += [secrets.choice(pool) for _ in range(length - len(chosen))]
    # Shuffle so the required characters sit anywhere (Fisher-Yates, `secrets`).
    for i in range(len(chosen) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        chosen[i], chosen[j] = chosen[j], chosen[i]
    return "".join(chosen)
