-- Inputs as Commerce Layer accepts them (issue 14): the keys it makes optional are nullable
-- (NULLs never meet in a unique constraint, so a record without a code is just a record),
-- its names (coupons' promotion_rule_id, payment sources' payment_method_id), its enum values
-- (price tiers' PriceVolumeTier) and defaults (tax_included, manual, rechargeable: true), the
-- attributes it has that we lacked, and the sequence that numbers orders and stock transfers
-- an input leaves unnumbered.

CREATE SEQUENCE generated_numbers START 10000000;

ALTER TABLE shipping_categories ALTER COLUMN code DROP NOT NULL;
ALTER TABLE customer_groups ALTER COLUMN code DROP NOT NULL;
ALTER TABLE markets ALTER COLUMN code DROP NOT NULL;
ALTER TABLE promotions ALTER COLUMN code DROP NOT NULL;

ALTER TABLE price_lists ALTER COLUMN code DROP NOT NULL,
    ALTER COLUMN tax_included SET DEFAULT true,
    ADD COLUMN rules jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE prices ADD COLUMN rules jsonb NOT NULL DEFAULT '{}'::jsonb;

ALTER TABLE stock_locations ALTER COLUMN code DROP NOT NULL,
    ADD COLUMN label_format text NOT NULL DEFAULT 'PDF',
    ADD COLUMN suppress_etd bool NOT NULL DEFAULT false;

ALTER TABLE sku_lists ALTER COLUMN manual SET DEFAULT true;

ALTER TABLE bundles ALTER COLUMN currency_code DROP NOT NULL,
    ALTER COLUMN price_amount_cents DROP NOT NULL,
    ADD COLUMN _compute_price_amount bool NOT NULL DEFAULT false,
    ADD COLUMN _compute_compare_at_amount bool NOT NULL DEFAULT false;

ALTER TABLE gift_cards ALTER COLUMN currency_code DROP NOT NULL,
    ALTER COLUMN rechargeable SET DEFAULT true,
    ADD COLUMN distribute_discount bool NOT NULL DEFAULT true,
    ADD COLUMN image_url text;

ALTER TABLE customers ADD COLUMN shopper_reference text,
    ADD COLUMN profile_id text,
    ADD COLUMN tax_exemption_code text;

ALTER TABLE customer_payment_sources ALTER COLUMN payment_source_token DROP NOT NULL;
ALTER TABLE customer_payment_sources RENAME COLUMN payment_method TO payment_method_id;

ALTER TABLE addresses ADD COLUMN business bool NOT NULL DEFAULT false,
    ADD COLUMN lat float8,
    ADD COLUMN lng float8,
    ADD COLUMN billing_info text;

ALTER TABLE coupons RENAME COLUMN coupon_codes_promotion_rule_id TO promotion_rule_id;

-- Price tiers: named (a tier is matched by its price and name), open-ended when up_to is
-- NULL, typed as Commerce Layer types them.
UPDATE price_tiers SET type = CASE type WHEN 'frequency' THEN 'PriceFrequencyTier'
    ELSE 'PriceVolumeTier' END;
UPDATE price_tiers SET name = 'up to ' || up_to WHERE name IS NULL OR name = '';
UPDATE price_tiers t SET name = t.name || ' ' || t.id
    WHERE EXISTS (SELECT 1 FROM price_tiers o WHERE o.price_id = t.price_id
        AND o.name = t.name AND o.id < t.id);
ALTER TABLE price_tiers ALTER COLUMN type SET DEFAULT 'PriceVolumeTier',
    ALTER COLUMN up_to DROP NOT NULL,
    ALTER COLUMN name SET NOT NULL,
    DROP CONSTRAINT price_tiers_organization_id_mode_price_id_up_to_key,
    ADD CONSTRAINT price_tiers_organization_id_mode_price_id_name_key
        UNIQUE (organization_id, mode, price_id, name);

ALTER TABLE line_items ADD COLUMN item_id text,
    ADD COLUMN image_url text,
    ADD COLUMN frequency text,
    ADD COLUMN gift_card_id text REFERENCES gift_cards (id);

ALTER TABLE line_item_options ADD COLUMN unit_amount_cents int8;

-- A bundle's, gift card's or SKU option's currency, when an input leaves it out, is its
-- market's (the currency of the market's price list), as Commerce Layer inherits it.
CREATE FUNCTION currency_from_market() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.currency_code IS NULL AND NEW.market_id IS NOT NULL THEN
        SELECT l.currency_code INTO NEW.currency_code
        FROM markets m JOIN price_lists l ON l.id = m.price_list_id
        WHERE m.id = NEW.market_id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER bundles_currency BEFORE INSERT OR UPDATE OF market_id, currency_code ON bundles
    FOR EACH ROW EXECUTE FUNCTION currency_from_market();
CREATE TRIGGER gift_cards_currency BEFORE INSERT OR UPDATE OF market_id, currency_code ON gift_cards
    FOR EACH ROW EXECUTE FUNCTION currency_from_market();
CREATE TRIGGER sku_options_currency BEFORE INSERT OR UPDATE OF market_id, currency_code ON sku_options
    FOR EACH ROW EXECUTE FUNCTION currency_from_market();

-- A bundle asked to compute its amounts (`_compute_price_amount`,
-- `_compute_compare_at_amount`) gets the sum of its SKU list's items, each its quantity
-- times the SKU's price in the market's price list, as Commerce Layer computes them.
CREATE FUNCTION bundle_amounts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    price_sum int8;
    compare_sum int8;
BEGIN
    IF NEW._compute_price_amount OR NEW._compute_compare_at_amount THEN
        SELECT sum(i.quantity * p.amount_cents),
               sum(i.quantity * coalesce(p.compare_at_amount_cents, p.amount_cents))
        INTO price_sum, compare_sum
        FROM sku_list_items i
        JOIN markets m ON m.id = NEW.market_id
        JOIN prices p ON p.sku_id = i.sku_id AND p.price_list_id = m.price_list_id
        WHERE i.sku_list_id = NEW.sku_list_id;
        IF NEW._compute_price_amount THEN
            NEW.price_amount_cents := coalesce(price_sum, 0);
        END IF;
        IF NEW._compute_compare_at_amount THEN
            NEW.compare_at_amount_cents := coalesce(compare_sum, 0);
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER bundles_amounts BEFORE INSERT OR UPDATE ON bundles
    FOR EACH ROW EXECUTE FUNCTION bundle_amounts();

-- Attributes the reference API has that we lacked.
ALTER TABLE coupons ADD COLUMN expires_at timestamptz;
ALTER TABLE markets ADD COLUMN external_prices_url text,
    ADD COLUMN external_order_validation_url text,
    ADD COLUMN shipping_cost_cutoff int8;
ALTER TABLE orders ADD COLUMN affiliate_code text,
    ADD COLUMN guest bool NOT NULL DEFAULT false,
    ADD COLUMN coupon_code text,
    ADD COLUMN gift_card_code text,
    ADD COLUMN cart_url text,
    ADD COLUMN return_url text,
    ADD COLUMN terms_url text,
    ADD COLUMN privacy_url text,
    ADD COLUMN expires_at timestamptz;
-- A stock item may have no SKU, as in the reference API.
ALTER TABLE stock_items ALTER COLUMN sku_code DROP NOT NULL;
ALTER TABLE stock_items ALTER COLUMN sku_id DROP NOT NULL;
