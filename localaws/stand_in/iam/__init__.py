"""IAM for the stand-in: evaluation of identity-based policies (policy.py), a role's policies
from a SAM template (roles.py), what IAM checks each AWS request needs (authorization.py), and
the enforcement of those checks on requests signed by a bound principal (enforcement.py).

Importing this package loads none of them: the unit tests use policy, roles and authorization
alone, without the stand-in's patches of moto.
"""
