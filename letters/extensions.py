"""Unbound extension instances; create_app() binds them."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()
# Organiser logins (letters/organiser/auth.py) and their rate limit; the limiter's storage is
# RATELIMIT_STORAGE_URI (memory:// unless LETTERS_RATELIMIT_STORAGE_URL says otherwise).
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address)
