"""Unbound extension instances; create_app() binds them."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Constraint names spelled the way PostgreSQL names unnamed constraints itself, so that the
# tables migrations make and those create_all makes in tests carry the same names, and a
# migration can drop or alter a constraint by name on every database. Check constraints must
# be named explicitly.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}


class Base(DeclarativeBase):
    """Declarative base shared by every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()
# Organiser logins (letters/organiser/auth.py) and their rate limit; the limiter's storage is
# RATELIMIT_STORAGE_URI (memory:// unless LETTERS_RATELIMIT_STORAGE_URL says otherwise).
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address)
