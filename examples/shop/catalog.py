"""The shop's catalog: a dozen products, in memory, with integer ids."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    category: str
    price_cents: int
    description: str

    @property
    def price(self) -> str:
        return f"{self.price_cents / 100:.2f}"

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "price_cents": self.price_cents,
            "description": self.description,
        }


PRODUCTS: tuple[Product, ...] = (
    Product(1, "Trail Mug", "kitchen", 1800, "Enamel mug that survives campfires."),
    Product(2, "Pour-over Kettle", "kitchen", 4900, "Gooseneck kettle for a steady pour."),
    Product(3, "Merino Beanie", "clothing", 2900, "Warm, soft, never itchy."),
    Product(4, "Rain Shell", "clothing", 14900, "Packable waterproof jacket."),
    Product(5, "Headlamp", "gear", 3900, "300 lumens, USB-C rechargeable."),
    Product(6, "Daypack 22L", "gear", 8900, "Light pack with a hip belt."),
    Product(7, "Water Filter", "gear", 3400, "Squeeze filter, 0.1 micron."),
    Product(8, "Wool Socks", "clothing", 1900, "Cushioned hiking socks, two pairs."),
    Product(9, "Camp Stove", "kitchen", 6900, "Canister stove that boils a litre in 3 minutes."),
    Product(10, "Trekking Poles", "gear", 11900, "Carbon poles that fold to 38 cm."),
    Product(11, "Trail Map Set", "books", 2400, "Waterproof maps of three national parks."),
    Product(12, "Field Guide", "books", 2200, "Birds, tracks and trees in one pocket book."),
)
_BY_ID = {product.id: product for product in PRODUCTS}
FEATURED: tuple[Product, ...] = tuple(_BY_ID[i] for i in (4, 6, 5, 1))


def find(product_id: int) -> Product | None:
    return _BY_ID.get(product_id)


def search(query: str) -> list[Product]:
    """Products whose name, category or description contain every word of the query."""
    words = query.lower().split()
    return [
        p
        for p in PRODUCTS
        if all(w in f"{p.name} {p.category} {p.description}".lower() for w in words)
    ]
