"""Forms for the shipment admin pages. Shape only; services decide."""

from __future__ import annotations

from django import forms

from inventory.models import Warehouse

from .carriers import carrier_names


class OrderLookupForm(forms.Form):
    order = forms.CharField(label="Order number", max_length=20)


class ShipmentCreateForm(forms.Form):
    """One quantity field per order line (`qty_<line id>`), plus a warehouse."""

    warehouse = forms.ModelChoiceField(
        queryset=Warehouse.objects.all(),
        required=False,
        to_field_name="code",
        empty_label="(the one holding the reservations)",
    )

    def __init__(self, *args, lines=(), remaining=None, **kwargs):
        super().__init__(*args, **kwargs)
        remaining = remaining or {}
        self.lines = list(lines)
        for line in self.lines:
            left = remaining.get(line.pk, 0)
            self.fields[f"qty_{line.pk}"] = forms.IntegerField(
                label=f"{line.sku} ({line.name}): {left} of {line.quantity} left",
                min_value=0,
                initial=left,
                required=False,
            )

    def items(self) -> list[tuple[str, int]]:
        out = []
        for line in self.lines:
            qty = self.cleaned_data.get(f"qty_{line.pk}") or 0
            if qty:
                out.append((line.sku, qty))
        return out


class ShipForm(forms.Form):
    carrier = forms.ChoiceField(choices=())
    tracking_number = forms.CharField(max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["carrier"].choices = [(name, name) for name in carrier_names()]
