"""The payment service's tables."""

from sqlalchemy.orm import DeclarativeBase

from boxoffice.core.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
