//! Evidence providers (being written).
