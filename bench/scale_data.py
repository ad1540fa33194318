"""Orders at scale, written straight in SQL (INSERT ... SELECT over generate_series)
for `bench/scale`: a consistent history the app could have written itself.

Per generated order: its lines, one payment (amounts and status matching the
order's state and method), the audit events of every step it went through, a
reservation per line and the ledger rows that go with it (reservation, sale,
release, return), one shipment for what was shipped or is being packed, step
timings, typed holds on held orders (and released ones on a few approved
orders), return requests with their lines, refunds and credit notes for the
returned ones, and a few open returns. Each chunk also books one receipt per
stock level it touched, so that `reconcile_stock` and `reconcile_payments`
find nothing to report.

What it leaves out: the gateway call log and invoices (the generated captures
predate them, so `issue_missing_documents` has nothing to issue), tracking
events, notifications and webhook deliveries, promo codes and channel orders.

Mix (by status): delivered 59%, cancelled 18% (60% declined at confirmation,
the rest cancelled by the customer after it), shipped 8%, confirmed 6%,
processing 3%, on_hold 3%, returned 1.5%, partially returned 1.2%, pending
0.3%. Markets US 60% (card), IN 25% (card, UPI, COD), PH 15% (card, COD).
Customers: one account per 20 orders (`scale0000001`, ...), picked at random.
Products: 200 (`SCALE-0001`...), priced in all three markets, stocked in each
market's warehouse. Terminal orders are spread over the last two years, work
in flight over the last few days (card authorizations are not near expiry).
"""

from __future__ import annotations

import time
from collections.abc import Callable

PRODUCTS = 200
ORDERS_PER_CUSTOMER = 20
CHUNK = 100_000


def num6(expr: str) -> str:
    """SQL for Python's f"{n:06d}" (lpad would cut longer numbers)."""
    return f"CASE WHEN length(({expr})::text) >= 6 THEN ({expr})::text ELSE lpad(({expr})::text, 6, '0') END"


SETUP = f"""
INSERT INTO inventory_product (sku, name, active, created_at, updated_at)
SELECT 'SCALE-' || lpad(i::text, 4, '0'), 'Scale product ' || i, true, now(), now()
FROM generate_series(1, {PRODUCTS}) i
ON CONFLICT (sku) DO NOTHING;

INSERT INTO inventory_productprice (product_id, market_code, amount)
SELECT p.id, m.code,
       round(((5 + (substring(p.sku from 7)::int * 37) % 300) + 0.99) * m.factor, 2)
FROM inventory_product p
CROSS JOIN (VALUES ('US', 1.0), ('IN', 80.0), ('PH', 55.0)) m(code, factor)
WHERE p.sku LIKE 'SCALE-%'
ON CONFLICT (product_id, market_code) DO NOTHING;

INSERT INTO inventory_stocklevel (product_id, warehouse_id, on_hand, reserved, bin_location, updated_at)
SELECT p.id, wm.warehouse_id, 0, 0, 'S-' || substring(p.sku from 7), now()
FROM inventory_product p
CROSS JOIN inventory_warehousemarket wm
WHERE p.sku LIKE 'SCALE-%'
ON CONFLICT (product_id, warehouse_id) DO NOTHING;
"""

CUSTOMERS = """
INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, last_name,
                       email, is_staff, is_active, date_joined)
SELECT '!', NULL, false, 'scale' || lpad(i::text, 7, '0'), 'Scale', 'Customer ' || i,
       'scale' || lpad(i::text, 7, '0') || '@example.test', false, true,
       now() - interval '800 days'
FROM generate_series(%(have)s + 1, %(want)s) i;

INSERT INTO orders_customerprofile (user_id, tax_exempt, trusted)
SELECT u.id, false, false FROM auth_user u
WHERE u.username LIKE 'scale%%' AND NOT EXISTS (
    SELECT 1 FROM orders_customerprofile cp WHERE cp.user_id = u.id);
"""

# One chunk of %(n)s orders. Temp tables are dropped at commit.
CHUNK_SQL = [
    # Markets with their warehouse and standard shipping; products with prices and levels.
    """
CREATE TEMP TABLE gen_m ON COMMIT DROP AS
SELECT m.id AS market_id, m.code, m.currency, m.country, m.tax_rate, m.prices_include_tax,
       sm.price AS ship_price, sm.free_over, wm.warehouse_id
FROM orders_market m
JOIN orders_shippingmethod sm ON sm.market_id = m.id AND sm.code = 'standard'
JOIN inventory_warehousemarket wm ON wm.market_code = m.code
WHERE m.code IN ('US', 'IN', 'PH');

CREATE TEMP TABLE gen_p ON COMMIT DROP AS
SELECT substring(p.sku from 7)::int - 1 AS idx, p.id AS product_id, p.sku, p.name,
       m.market_id, pp.amount AS price, sl.id AS stock_level_id, m.warehouse_id
FROM inventory_product p
JOIN gen_m m ON true
JOIN inventory_productprice pp ON pp.product_id = p.id AND pp.market_code = m.code
JOIN inventory_stocklevel sl ON sl.product_id = p.id AND sl.warehouse_id = m.warehouse_id
WHERE p.sku LIKE 'SCALE-%%';
CREATE INDEX ON gen_p (market_id, idx);

CREATE TEMP TABLE gen_c ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY id) - 1)::int AS k, id AS user_id, username
FROM auth_user WHERE username LIKE 'scale%%';
CREATE UNIQUE INDEX ON gen_c (k);
""",
    # The orders: status, market, method, age; then money once the lines exist.
    """
CREATE TEMP TABLE gen_o ON COMMIT DROP AS
WITH base AS (
    SELECT nextval(pg_get_serial_sequence('orders_order', 'id')) AS id,
           random() AS r_status, random() AS r_market, random() AS r_pay, random() AS r_age,
           random() AS r_misc, floor(random() * %(customers)s)::int AS cust_k,
           1 + floor(random() * 3)::int AS nlines, floor(random() * 200)::int AS pbase
    FROM generate_series(1, %(n)s)
), s AS (
    SELECT b.*,
        CASE WHEN r_status < 0.003 THEN 'pending'
             WHEN r_status < 0.033 THEN 'on_hold'
             WHEN r_status < 0.093 THEN 'confirmed'
             WHEN r_status < 0.123 THEN 'processing'
             WHEN r_status < 0.203 THEN 'shipped'
             WHEN r_status < 0.383 THEN 'cancelled'
             WHEN r_status < 0.398 THEN 'returned'
             WHEN r_status < 0.410 THEN 'partially_returned'
             ELSE 'delivered' END AS status,
        CASE WHEN r_market < 0.60 THEN 'US' WHEN r_market < 0.85 THEN 'IN' ELSE 'PH' END AS mcode
    FROM base b
), t AS (
    SELECT s.*, m.market_id, m.currency, m.country, m.tax_rate, m.prices_include_tax,
           m.ship_price, m.free_over, m.warehouse_id, c.user_id AS customer_id, c.username,
           CASE s.mcode
               WHEN 'US' THEN 'card'
               WHEN 'IN' THEN CASE WHEN r_pay < 0.5 THEN 'card' WHEN r_pay < 0.75 THEN 'upi' ELSE 'cod' END
               ELSE CASE WHEN r_pay < 0.6 THEN 'card' ELSE 'cod' END
           END AS payment_method,
           CASE s.status
               WHEN 'pending' THEN now() - r_age * interval '50 seconds'
               WHEN 'on_hold' THEN now() - interval '5 minutes' - r_age * interval '1 day'
               WHEN 'confirmed' THEN now() - interval '5 minutes' - r_age * interval '2 days'
               WHEN 'processing' THEN now() - interval '2 hours' - r_age * interval '2 days'
               WHEN 'shipped' THEN now() - interval '1 day' - r_age * interval '4 days'
               ELSE now() - interval '15 days' - r_age * interval '715 days'
           END AS created_at
    FROM s JOIN gen_m m ON m.code = s.mcode JOIN gen_c c ON c.k = s.cust_k
)
SELECT id, status, mcode, market_id, currency, country, tax_rate, prices_include_tax,
       ship_price, free_over, warehouse_id, customer_id, username, payment_method, created_at,
       r_misc, pbase,
       CASE WHEN status = 'partially_returned' THEN greatest(nlines, 2) ELSE nlines END AS nlines,
       (status = 'cancelled' AND r_misc < 0.6) AS declined,
       mcode || '-' || {num6_id} AS number,
       CASE WHEN status IN ('confirmed', 'processing', 'shipped', 'delivered', 'returned',
                            'partially_returned')
                 OR (status = 'cancelled' AND r_misc >= 0.6)
            THEN created_at + interval '1 minute' END AS confirmed_at,
       CASE WHEN status = 'on_hold' THEN created_at + interval '1 minute' END AS held_at,
       CASE WHEN status IN ('shipped', 'delivered', 'returned', 'partially_returned')
            THEN created_at + interval '20 hours' END AS shipped_at,
       CASE WHEN status IN ('delivered', 'returned', 'partially_returned')
            THEN created_at + interval '4 days' END AS delivered_at,
       CASE WHEN status = 'cancelled' AND r_misc < 0.6 THEN created_at + interval '2 minutes'
            WHEN status = 'cancelled' THEN created_at + interval '3 hours' END AS cancelled_at
FROM t;
CREATE UNIQUE INDEX ON gen_o (id);
""".replace("{num6_id}", num6("id")),
    """
CREATE TEMP TABLE gen_l ON COMMIT DROP AS
SELECT nextval(pg_get_serial_sequence('orders_orderline', 'id')) AS id, o.id AS order_id, k,
       p.product_id, p.sku, p.name, p.price AS unit_price, p.stock_level_id, p.warehouse_id,
       q.quantity, p.price * q.quantity AS line_total,
       CASE WHEN o.shipped_at IS NOT NULL THEN q.quantity ELSE 0 END AS quantity_shipped,
       CASE WHEN o.status = 'returned' OR (o.status = 'partially_returned' AND k = 0)
            THEN q.quantity ELSE 0 END AS quantity_returned
FROM gen_o o
CROSS JOIN LATERAL generate_series(0, o.nlines - 1) k
CROSS JOIN LATERAL (SELECT 1 + floor(random() * 3)::int + 0 * k AS quantity) q
JOIN gen_p p ON p.market_id = o.market_id AND p.idx = (o.pbase + k * 37) %% 200;
CREATE INDEX ON gen_l (order_id);

ALTER TABLE gen_o ADD COLUMN subtotal numeric(12, 2), ADD COLUMN first_line numeric(12, 2),
    ADD COLUMN shipping numeric(12, 2), ADD COLUMN tax numeric(12, 2),
    ADD COLUMN total numeric(12, 2), ADD COLUMN refund numeric(12, 2),
    ADD COLUMN pay_status text, ADD COLUMN updated_at timestamptz;
UPDATE gen_o o SET subtotal = s.subtotal, first_line = s.first_line
FROM (SELECT order_id, sum(line_total) AS subtotal,
             sum(line_total) FILTER (WHERE k = 0) AS first_line
      FROM gen_l GROUP BY order_id) s
WHERE s.order_id = o.id;
UPDATE gen_o SET shipping = CASE WHEN free_over IS NOT NULL AND subtotal >= free_over
                                 THEN 0 ELSE ship_price END;
UPDATE gen_o SET tax = CASE WHEN prices_include_tax
                            THEN round(subtotal * tax_rate / (1 + tax_rate), 2)
                            ELSE round(subtotal * tax_rate, 2) END;
UPDATE gen_o SET
    total = subtotal + shipping + CASE WHEN prices_include_tax THEN 0 ELSE tax END,
    pay_status = CASE
        WHEN status = 'pending' THEN 'pending'
        WHEN status IN ('on_hold', 'confirmed', 'processing')
            THEN CASE WHEN payment_method = 'cod' THEN 'pending' ELSE 'authorized' END
        WHEN status = 'shipped'
            THEN CASE WHEN payment_method = 'cod' THEN 'pending' ELSE 'captured' END
        WHEN status = 'delivered' THEN 'captured'
        WHEN status = 'returned' THEN 'refunded'
        WHEN status = 'partially_returned' THEN 'partially_refunded'
        WHEN declined AND payment_method <> 'cod' THEN 'failed'
        ELSE 'voided' END,
    updated_at = greatest(created_at, confirmed_at, held_at, shipped_at, delivered_at,
                          cancelled_at)
                 + CASE WHEN status IN ('returned', 'partially_returned')
                        THEN interval '5 days' ELSE interval '0' END;
UPDATE gen_o SET refund = CASE
    WHEN status = 'returned' THEN total
    WHEN prices_include_tax THEN first_line
    ELSE round(first_line * (1 + tax_rate), 2) END
WHERE status IN ('returned', 'partially_returned');
""",
    """
INSERT INTO orders_order (id, number, customer_id, market_id, currency, status, subtotal, discount,
    shipping, tax, total, tax_rate, prices_include_tax, tax_exempt, promo_id, promo_code,
    shipping_method, shipping_address, payment_method, payment_status, source, channel, client_ip,
    user_agent, risk_score, risk_reasons, cancel_reason, created_at, updated_at, confirmed_at,
    cancelled_at, held_at, shipped_at, delivered_at, reviewer_id, claimed_at, hold_resume_status)
SELECT id, number, customer_id, market_id, currency, status, subtotal, 0, shipping, tax, total,
    tax_rate, prices_include_tax, false, NULL, '', 'standard',
    jsonb_build_object('name', 'Customer ' || customer_id, 'phone', '+10000000000',
        'line1', (customer_id %% 997) || ' Scale Street', 'line2', '', 'city', 'Scaleville',
        'region', '', 'postal_code', lpad((customer_id %% 99999)::text, 5, '0'),
        'country', country),
    payment_method, pay_status,
    CASE WHEN r_misc < 0.05 THEN 'admin' ELSE 'api' END, '', NULL, 'bench-scale',
    CASE WHEN status = 'pending' THEN NULL
         WHEN status = 'on_hold' THEN 60 + floor(r_misc * 35)::int
         ELSE floor(r_misc * 30)::int END,
    CASE WHEN status = 'on_hold'
         THEN '[{"rule": "amount_over_review", "points": 60, "reason": "Total above the review amount"}]'::jsonb
         ELSE '[]'::jsonb END,
    CASE WHEN declined THEN 'Payment declined' WHEN status = 'cancelled' THEN 'Customer cancelled'
         ELSE '' END,
    created_at, updated_at, confirmed_at, cancelled_at, held_at, shipped_at, delivered_at,
    NULL, NULL, ''
FROM gen_o;

INSERT INTO orders_orderline (id, order_id, product_id, sku, name, quantity, unit_price,
    line_total, quantity_shipped, quantity_returned, quantity_cancelled)
SELECT id, order_id, product_id, sku, name, quantity, unit_price, line_total, quantity_shipped,
    quantity_returned, 0
FROM gen_l;
""",
    # The audit trail: one event per step the order went through.
    """
INSERT INTO orders_orderevent (order_id, from_status, to_status, actor_id, actor_name, reason,
    customer_reason, staff_only, at)
SELECT o.id, e.f, e.t, NULL, e.actor, e.reason, NULL, false, e.at
FROM gen_o o CROSS JOIN LATERAL (VALUES
    (true, '', 'pending', o.username, 'Order placed', o.created_at),
    (o.status = 'on_hold', 'pending', 'on_hold', 'system', 'Held for review: total above the review amount', o.held_at),
    (o.confirmed_at IS NOT NULL, 'pending', 'confirmed', 'system', 'Payment authorized', o.confirmed_at),
    (o.status IN ('processing', 'shipped', 'delivered', 'returned', 'partially_returned'),
        'confirmed', 'processing', 'system', 'Shipment created', o.confirmed_at + interval '1 hour'),
    (o.shipped_at IS NOT NULL, 'processing', 'shipped', 'system', 'Shipped', o.shipped_at),
    (o.delivered_at IS NOT NULL, 'shipped', 'delivered', 'system', 'Delivered', o.delivered_at),
    (o.status IN ('returned', 'partially_returned'), 'delivered', o.status, 'system',
        'Return refunded', o.delivered_at + interval '5 days'),
    (o.declined, 'pending', 'cancelled', 'system', 'Payment declined', o.cancelled_at),
    (o.status = 'cancelled' AND NOT o.declined, 'confirmed', 'cancelled', o.username,
        'Customer cancelled', o.cancelled_at)
) e(ok, f, t, actor, reason, at)
WHERE e.ok;
""",
    # Stock: a reservation per line and its ledger rows.
    """
INSERT INTO inventory_reservation (order_line_id, stock_level_id, quantity, quantity_fulfilled,
    status, expires_at, created_at, updated_at)
SELECT l.id, l.stock_level_id, l.quantity, l.quantity_shipped,
    CASE WHEN o.status IN ('pending', 'on_hold') THEN 'active'
         WHEN o.status IN ('confirmed', 'processing') THEN 'committed'
         WHEN o.status = 'cancelled' THEN 'released'
         ELSE 'fulfilled' END,
    CASE WHEN o.status IN ('pending', 'on_hold') THEN o.created_at + interval '30 minutes' END,
    o.created_at, o.updated_at
FROM gen_l l JOIN gen_o o ON o.id = l.order_id;

CREATE TEMP TABLE gen_mv ON COMMIT DROP AS
SELECT l.product_id, l.warehouse_id, l.stock_level_id, m.kind, m.oh, m.rs, m.reason, o.number,
       m.at
FROM gen_l l JOIN gen_o o ON o.id = l.order_id CROSS JOIN LATERAL (VALUES
    (true, 'reservation', 0, l.quantity, 'order placed', o.created_at),
    (o.shipped_at IS NOT NULL, 'sale', -l.quantity, -l.quantity, 'shipped', o.shipped_at),
    (o.status = 'cancelled', 'release', 0, -l.quantity, 'order cancelled', o.cancelled_at),
    (l.quantity_returned > 0, 'return', l.quantity_returned, 0, 'return restocked',
        o.delivered_at + interval '4 days')
) m(ok, kind, oh, rs, reason, at)
WHERE m.ok;

CREATE TEMP TABLE gen_sl ON COMMIT DROP AS
SELECT stock_level_id, product_id, warehouse_id, sum(oh)::int AS oh, sum(rs)::int AS rs,
       greatest(sum(rs) - sum(oh), 0)::int + 500 AS receipt, min(at) AS first_at
FROM gen_mv GROUP BY stock_level_id, product_id, warehouse_id;

INSERT INTO inventory_stockmovement (product_id, warehouse_id, kind, on_hand_delta,
    reserved_delta, actor_id, reason, reference, created_at)
SELECT product_id, warehouse_id, 'receipt', receipt, 0, NULL::int, 'bench scale stock', 'scale',
       first_at - interval '1 day'
FROM gen_sl
UNION ALL
SELECT product_id, warehouse_id, kind, oh, rs, NULL, reason, number, at FROM gen_mv;

UPDATE inventory_stocklevel s
SET on_hand = s.on_hand + g.receipt + g.oh, reserved = s.reserved + g.rs, updated_at = now()
FROM gen_sl g WHERE g.stock_level_id = s.id;
""",
    # Payments, step timings and holds.
    """
INSERT INTO payments_payment (uid, order_id, gateway, method, token, currency, amount,
    amount_authorized, amount_captured, amount_refunded, reference, risk_score, decline_code,
    failure_message, void_reason, status, created_at, updated_at, authorized_at, captured_at)
SELECT gen_random_uuid(), id, 'test', payment_method, '', currency, total,
    CASE WHEN pay_status IN ('authorized', 'captured', 'refunded', 'partially_refunded')
              OR (pay_status = 'voided' AND payment_method <> 'cod') THEN total ELSE 0 END,
    CASE WHEN pay_status IN ('captured', 'refunded', 'partially_refunded') THEN total ELSE 0 END,
    coalesce(refund, 0),
    CASE WHEN pay_status = 'pending' THEN '' ELSE 'scale-' || id END,
    NULL,
    CASE WHEN pay_status = 'failed' THEN 'card_declined' ELSE '' END,
    CASE WHEN pay_status = 'failed' THEN 'Your card was declined.' ELSE '' END,
    CASE WHEN pay_status = 'voided' THEN 'order cancelled' ELSE '' END,
    pay_status, created_at, updated_at,
    CASE WHEN payment_method <> 'cod' AND confirmed_at IS NOT NULL THEN confirmed_at
         WHEN payment_method <> 'cod' AND held_at IS NOT NULL THEN held_at END,
    CASE WHEN pay_status IN ('captured', 'refunded', 'partially_refunded')
         THEN CASE WHEN payment_method = 'cod' THEN delivered_at ELSE shipped_at END END
FROM gen_o;

INSERT INTO operations_steptiming (order_id, step, milliseconds, recorded_at)
SELECT o.id, s.step, round((s.base + random() * s.spread)::numeric, 1)::float8,
       coalesce(o.confirmed_at, o.held_at, o.cancelled_at)
FROM gen_o o CROSS JOIN (VALUES ('queue_wait', 5, 400), ('payment', 80, 600),
                                ('confirmation', 15, 60)) s(step, base, spread)
WHERE o.status <> 'pending';

INSERT INTO orders_hold (order_id, shipment_id, reason, note, placed_by_id, placed_at,
    released_by_id, released_at, release_note)
SELECT id, NULL::bigint,
    CASE WHEN r_misc < 0.65 THEN 'high_risk' WHEN r_misc < 0.80 THEN 'address_check'
         WHEN r_misc < 0.90 THEN 'manual' WHEN r_misc < 0.95 THEN 'awaiting_payment'
         ELSE 'out_of_stock' END,
    'bench scale hold', NULL::int, held_at, NULL::int, NULL::timestamptz, ''
FROM gen_o WHERE status = 'on_hold'
UNION ALL
SELECT id, NULL, 'manual', 'second look', NULL, held_at + interval '1 minute', NULL, NULL, ''
FROM gen_o WHERE status = 'on_hold' AND r_misc < 0.20
UNION ALL
SELECT id, NULL, 'high_risk', 'held at confirmation', NULL, created_at + interval '30 seconds',
    NULL, created_at + interval '40 seconds', 'approved'
FROM gen_o WHERE status = 'delivered' AND r_misc > 0.97;
""",
    # Shipments for what was shipped or is being packed.
    """
CREATE TEMP TABLE gen_s ON COMMIT DROP AS
SELECT nextval(pg_get_serial_sequence('fulfillment_shipment', 'id')) AS sid, o.*
FROM gen_o o WHERE o.status IN ('processing', 'shipped', 'delivered', 'returned',
                                'partially_returned');

INSERT INTO fulfillment_shipment (id, number, order_id, warehouse_id, status, carrier,
    tracking_number, created_by_id, packed_by_id, shipped_by_id, delivered_by_id,
    cancelled_by_id, created_at, updated_at, packed_at, shipped_at, delivered_at, cancelled_at,
    cancel_reason, stock_moved_at, capture_amount, captured_at, capture_error)
SELECT sid, 'SH-' || {num6_sid}, id, warehouse_id,
    CASE WHEN status = 'processing' THEN 'pending'
         WHEN status = 'shipped' THEN 'in_transit' ELSE 'delivered' END,
    CASE WHEN status = 'processing' THEN '' ELSE 'test' END,
    CASE WHEN status = 'processing' THEN '' ELSE 'SCALE' || sid END,
    NULL, NULL, NULL, NULL, NULL,
    confirmed_at + interval '1 hour',
    coalesce(delivered_at, shipped_at, confirmed_at + interval '1 hour'),
    shipped_at, shipped_at, delivered_at, NULL, '', shipped_at,
    CASE WHEN shipped_at IS NOT NULL THEN total END,
    CASE WHEN shipped_at IS NULL THEN NULL
         WHEN payment_method = 'cod' THEN delivered_at ELSE shipped_at END,
    ''
FROM gen_s;

INSERT INTO fulfillment_shipmentline (shipment_id, order_line_id, quantity)
SELECT s.sid, l.id, l.quantity FROM gen_s s JOIN gen_l l ON l.order_id = s.id;
""".replace("{num6_sid}", num6("sid")),
    # Returns: the refunded ones, with refund and credit note; a few open ones.
    """
CREATE TEMP TABLE gen_r ON COMMIT DROP AS
SELECT nextval(pg_get_serial_sequence('returns_returnrequest', 'id')) AS rid,
       CASE WHEN o.refund IS NOT NULL
            THEN nextval(pg_get_serial_sequence('payments_refund', 'id')) END AS refund_id,
       o.id AS order_id, o.customer_id, o.status AS order_status, o.refund, o.currency, o.mcode,
       o.prices_include_tax, o.delivered_at,
       CASE WHEN o.refund IS NOT NULL THEN 'refunded'
            WHEN o.r_misc < 0.005 THEN 'initiated' ELSE 'approved' END AS status
FROM gen_o o
WHERE o.refund IS NOT NULL OR (o.status = 'delivered' AND o.r_misc < 0.01);

INSERT INTO returns_returnrequest (id, number, order_id, customer_id, reason, comment,
    resolution, status, rejection_reason, pickup_at, carrier, tracking_number, refund_goods,
    refund_shipping, refund_amount, refund_note, refund_error, refund_attempt, refund_id,
    refund_requested_by_id, replacement_order_id, replacement_error, created_at, updated_at,
    approved_at, rejected_at, cancelled_at, pickup_scheduled_at, in_transit_at, received_at,
    processed_at, refunded_at)
SELECT rid, 'RMA-' || {num6_rid}, order_id, customer_id, 'no_longer_needed', '', 'refund', status,
    '', NULL, '', '', refund, 0, refund, '', '', CASE WHEN refund IS NULL THEN 0 ELSE 1 END,
    NULL, NULL, NULL, '', delivered_at + interval '1 day',
    delivered_at + interval '1 day' + CASE WHEN refund IS NULL THEN interval '0' ELSE interval '4 days' END,
    CASE WHEN status <> 'initiated' THEN delivered_at + interval '1 day 1 hour' END,
    NULL, NULL, NULL, NULL,
    CASE WHEN refund IS NOT NULL THEN delivered_at + interval '4 days' END,
    CASE WHEN refund IS NOT NULL THEN delivered_at + interval '5 days' END,
    CASE WHEN refund IS NOT NULL THEN delivered_at + interval '5 days' END
FROM gen_r;

INSERT INTO returns_returnline (return_request_id, order_line_id, sku, quantity,
    replacement_product_id, quantity_resellable, quantity_damaged)
SELECT r.rid, l.id, l.sku, CASE WHEN r.refund IS NULL THEN 1 ELSE l.quantity END, NULL,
    l.quantity_returned, 0
FROM gen_r r JOIN gen_l l ON l.order_id = r.order_id
WHERE l.quantity_returned > 0 OR (r.refund IS NULL AND l.k = 0);

INSERT INTO returns_returnevent (return_request_id, from_status, to_status, actor_id,
    actor_name, reason, at)
SELECT r.rid, e.f, e.t, NULL, e.actor, e.reason, e.at
FROM gen_r r CROSS JOIN LATERAL (VALUES
    (true, '', 'initiated', 'customer', 'no_longer_needed', r.delivered_at + interval '1 day'),
    (r.status <> 'initiated', 'initiated', 'approved', 'admin', '', r.delivered_at + interval '1 day 1 hour'),
    (r.refund IS NOT NULL, 'processed', 'refunded', 'system', '', r.delivered_at + interval '5 days')
) e(ok, f, t, actor, reason, at)
WHERE e.ok;

INSERT INTO payments_refund (id, payment_id, amount, currency, reason, source, actor_id, status,
    reference, idempotency_key, failure_message, created_at, completed_at)
SELECT r.refund_id, p.id, r.refund, r.currency, 'return', 'return:RMA-' || {num6_rid}, NULL,
    'succeeded', 'scale-rf-' || r.refund_id, 'return:RMA-' || {num6_rid} || ':scale', '',
    r.delivered_at + interval '5 days', r.delivered_at + interval '5 days'
FROM gen_r r JOIN payments_payment p ON p.order_id = r.order_id
WHERE r.refund IS NOT NULL;

UPDATE returns_returnrequest rr SET refund_id = r.refund_id
FROM gen_r r WHERE rr.id = r.rid AND r.refund_id IS NOT NULL;

CREATE TEMP TABLE gen_cn ON COMMIT DROP AS
SELECT r.*, extract(year FROM r.delivered_at + interval '5 days')::int AS year,
       coalesce(dc.last_number, 0)
         + row_number() OVER (PARTITION BY r.mcode,
                                           extract(year FROM r.delivered_at + interval '5 days')
                              ORDER BY r.refund_id) AS seq
FROM gen_r r
LEFT JOIN invoicing_documentcounter dc
    ON dc.market = r.mcode AND dc.kind = 'credit_note'
   AND dc.year = extract(year FROM r.delivered_at + interval '5 days')::int
WHERE r.refund IS NOT NULL;

INSERT INTO invoicing_fiscaldocument (number, kind, market, year, sequence, order_id, capture_id,
    refund_id, issued_at, currency, tax_included, lines, subtotal, discount, shipping, tax, total,
    seller, pdf)
SELECT 'CN-' || mcode || '-' || year || '-' || {num6_seq}, 'credit_note', mcode, year, seq,
    order_id, NULL, refund_id, delivered_at + interval '5 days', currency, prices_include_tax,
    '[]'::jsonb, refund, 0, 0, 0, refund, '{}'::jsonb,
    convert_to('%%PDF-1.4 bench scale placeholder', 'UTF8')
FROM gen_cn;

INSERT INTO invoicing_documentcounter (market, kind, year, last_number)
SELECT mcode, 'credit_note', year, max(seq) FROM gen_cn GROUP BY mcode, year
ON CONFLICT (market, kind, year) DO UPDATE
SET last_number = greatest(invoicing_documentcounter.last_number, EXCLUDED.last_number);
""".replace("{num6_rid}", num6("rid")).replace("{num6_seq}", num6("seq")),
]


def generate(dsn: str, size: int, *, log: Callable[[str], None] = print) -> dict:
    """Grow the database to `size` generated orders (those already there count),
    in chunks of CHUNK, one transaction each; then ANALYZE. Returns what was done."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        cur = psycopg.ClientCursor(conn)
        cur.execute("SELECT count(*) FROM orders_order WHERE user_agent = 'bench-scale'")
        (have,) = cur.fetchone()
        if have == 0:
            cur.execute(SETUP)
        cur.execute("SELECT count(*) FROM auth_user WHERE username LIKE 'scale%%'", {})
        (customers,) = cur.fetchone()
        want = max(50, size // ORDERS_PER_CUSTOMER)
        if want > customers:
            cur.execute(CUSTOMERS, {"have": customers, "want": want})
            customers = want
        conn.commit()
        added = 0
        while have + added < size:
            n = min(CHUNK, size - have - added)
            chunk_started = time.perf_counter()
            cur.execute("SELECT setseed(%(seed)s)", {"seed": ((have + added) % 997) / 997})
            for statement in CHUNK_SQL:
                cur.execute(statement, {"n": n, "customers": customers})
            conn.commit()
            added += n
            log(
                f"  +{n:,} orders ({have + added:,} in all) in "
                f"{time.perf_counter() - chunk_started:.0f} s"
            )
        generated = time.perf_counter() - started
        analyze_started = time.perf_counter()
        conn.autocommit = True
        conn.execute("ANALYZE")
        analyze = time.perf_counter() - analyze_started
        (orders,) = conn.execute("SELECT count(*) FROM orders_order").fetchone()
    return {
        "orders": orders,
        "added": added,
        "customers": customers,
        "seconds": round(generated + analyze, 1),
        "analyze_s": round(analyze, 1),
    }
