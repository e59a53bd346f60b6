"""The company contact directory."""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kilopbx.store.base import Base


class Contact(Base):
    __tablename__ = "company_contact"
    # ids are never reused after a deletion (spec 20, Proposed)
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    last_name: Mapped[str] = mapped_column(String(127))
    first_name: Mapped[str] = mapped_column(String(127))
    company: Mapped[str] = mapped_column(String(127), default="")
    email: Mapped[str] = mapped_column(String(127), default="")
    business_number: Mapped[str] = mapped_column(String(31), default="")
    business_number_2: Mapped[str] = mapped_column(String(31), default="")
    mobile: Mapped[str] = mapped_column(String(31), default="")
    mobile_2: Mapped[str] = mapped_column(String(31), default="")
    home_number: Mapped[str] = mapped_column(String(31), default="")
    home_number_2: Mapped[str] = mapped_column(String(31), default="")
    business_fax: Mapped[str] = mapped_column(String(31), default="")
    home_fax: Mapped[str] = mapped_column(String(31), default="")
    other_number: Mapped[str] = mapped_column(String(31), default="")
    zip_code: Mapped[str] = mapped_column(String(127), default="")
    street: Mapped[str] = mapped_column(String(127), default="")
    city: Mapped[str] = mapped_column(String(127), default="")
    state: Mapped[str] = mapped_column(String(127), default="")
    country: Mapped[str] = mapped_column(String(127), default="")
