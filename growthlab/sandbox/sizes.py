"""World sizes: `tiny`, `small`, `medium` or a number of contacts."""

from __future__ import annotations

from dataclasses import dataclass

NAMED_SIZES = {"tiny": 1_000, "small": 6_000, "medium": 100_000}
MAX_CONTACTS = 5_000_000


@dataclass(frozen=True)
class WorldSize:
    label: str  # what the user asked for: tiny, small, medium or the number
    contacts: int
    companies: int
    owners: int


def parse_size(value: str | int) -> WorldSize:
    """`tiny` (~100 companies, 1,000 contacts), `small` (~1,000 / 6,000), `medium` (100k contacts), or N."""
    text = str(value).strip().lower().replace("_", "")
    if text in NAMED_SIZES:
        contacts = NAMED_SIZES[text]
        label = text
    else:
        try:
            contacts = int(float(text))
        except ValueError:
            raise ValueError(
                f"world size {value!r} is not tiny, small, medium or a number of contacts (e.g. 250000)"
            ) from None
        label = str(contacts)
        if not 50 <= contacts <= MAX_CONTACTS:
            raise ValueError(f"world size {contacts} is out of range; use 50 to {MAX_CONTACTS:,} contacts")
    if label == "tiny":
        companies, owners = 100, 4
    elif label == "small":
        companies, owners = 1_000, 8
    else:
        companies = max(10, contacts // 6)
        owners = min(60, max(4, contacts // 4_000))
    return WorldSize(label=label, contacts=contacts, companies=companies, owners=owners)
