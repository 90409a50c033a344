"""One package per AWS service; `registry.served_services()` lists them.

Each declares on its `Service` what the layers below need (tables, global
or not, unsigned access, the identity-policy source), so neither the store
nor the server names a service.
"""
