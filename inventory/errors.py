from core.errors import DomainError, ValidationFailed


class InsufficientStock(DomainError):
    """Raised with the shortfall per product so callers can name the line."""

    code = "INSUFFICIENT_STOCK"
    http_status = 400
    default_message = "Not enough stock."

    def __init__(self, shortages: dict[int, int]):
        self.shortages = shortages  # product_id → units available in the market
        super().__init__(self.default_message)


class StockAdjustmentRefused(ValidationFailed):
    default_message = "The stock adjustment was refused."
