"""Two organisations' worth of reference data, for scoping tests.

Center A (national) has university uA and an agreement agA with bank bA;
center B (provincial) has uB and agB with bB.  Enrolment eA / eB belongs to
uA / uB.  ``keys`` holds auth headers for one caller of each role on side A.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app.reference.models import CenterLevel
from tests import factories


@dataclass
class World:
    ids: dict[str, int] = field(default_factory=dict)
    keys: dict[str, dict[str, str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


def build_world(db: Session) -> World:
    world = World()
    center_a = factories.make_center(db, level=CenterLevel.national)
    center_b = factories.make_center(db)
    for side, center in (("A", center_a), ("B", center_b)):
        bank = factories.make_bank(db)
        university = factories.make_university(db, center)
        agreement = factories.make_agreement(db, center, bank)
        enrolment = factories.make_enrolment(db, university)
        world.ids |= {
            f"c{side}": center.id,
            f"b{side}": bank.id,
            f"u{side}": university.id,
            f"ag{side}": agreement.id,
            f"e{side}": enrolment.id,
        }
    orgs = {
        "center_staff": center_a,
        "bank_operator": db.get(type(bank), world.ids["bA"]),
        "university_officer": db.get(type(university), world.ids["uA"]),
        "admin": None,
    }
    for role, org in orgs.items():
        name = f"{role} of A"
        token, _ = factories.make_key(db, role, org, name=name)
        world.keys[role] = {"Authorization": f"Bearer {token}"}
        world.names[role] = name
    return world
