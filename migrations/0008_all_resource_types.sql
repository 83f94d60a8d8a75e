-- Every other importable resource type of the reference API, and the types they refer to,
-- so that a whole catalogue loads through imports alone (issue 6). In the catalogue's
-- dependency order; keep in step with common/src/catalogue.rs (tests/tests/schema.rs checks
-- that they agree). Children written inline with their parent (price_tiers, sku_list_items,
-- line_items, line_item_options) reference it like any relationship, as do addresses given
-- inline (a customer address's `address`, an order's `shipping_address`).
--
-- addresses and line_items may be created without a complete natural key (an address without
-- a reference, a line item without a sku_code): NULLs never conflict in a unique constraint,
-- so such inputs always create.

CREATE TABLE customer_groups (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, code)
);

CREATE TABLE tax_calculators (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    name text NOT NULL,
    type text NOT NULL,
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, name)
);

CREATE TABLE markets (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    facebook_pixel_id text,
    checkout_url text,
    disabled bool NOT NULL DEFAULT false,
    price_list_id text NOT NULL REFERENCES price_lists (id),
    customer_group_id text REFERENCES customer_groups (id),
    tax_calculator_id text REFERENCES tax_calculators (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, code)
);

CREATE TABLE tags (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    name text NOT NULL,
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, name)
);

CREATE TABLE price_tiers (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    name text,
    type text NOT NULL DEFAULT 'volume',
    up_to int8 NOT NULL,
    price_amount_cents int8 NOT NULL,
    price_id text NOT NULL REFERENCES prices (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, price_id, up_to)
);

CREATE TABLE stock_transfers (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    number text NOT NULL,
    sku_code text,
    quantity int8 NOT NULL,
    status text NOT NULL DEFAULT 'draft',
    sku_id text NOT NULL REFERENCES skus (id),
    origin_stock_location_id text NOT NULL REFERENCES stock_locations (id),
    destination_stock_location_id text NOT NULL REFERENCES stock_locations (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, number)
);

CREATE TABLE sku_lists (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    name text NOT NULL,
    slug text NOT NULL,
    description text,
    image_url text,
    manual bool NOT NULL DEFAULT false,
    sku_code_regex text,
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, slug)
);

CREATE TABLE sku_list_items (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    sku_code text,
    position int8,
    quantity int8 NOT NULL DEFAULT 1,
    sku_list_id text NOT NULL REFERENCES sku_lists (id),
    sku_id text NOT NULL REFERENCES skus (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, sku_list_id, sku_code)
);

CREATE TABLE bundles (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    currency_code text NOT NULL,
    description text,
    image_url text,
    price_amount_cents int8 NOT NULL,
    compare_at_amount_cents int8,
    market_id text REFERENCES markets (id),
    sku_list_id text NOT NULL REFERENCES sku_lists (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, code)
);

CREATE TABLE sku_options (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    name text NOT NULL,
    currency_code text,
    description text,
    price_amount_cents int8,
    delay_hours int8,
    sku_code_regex text,
    market_id text REFERENCES markets (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, name)
);

ALTER TABLE customers ADD COLUMN customer_group_id text REFERENCES customer_groups (id);

CREATE TABLE addresses (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    first_name text,
    last_name text,
    company text,
    line_1 text NOT NULL,
    line_2 text,
    city text NOT NULL,
    zip_code text,
    state_code text,
    country_code text NOT NULL,
    phone text,
    email text,
    notes text,
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, reference)
);

ALTER TABLE stock_locations ADD COLUMN address_id text REFERENCES addresses (id);


CREATE TABLE customer_addresses (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    customer_id text NOT NULL REFERENCES customers (id),
    address_id text NOT NULL REFERENCES addresses (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, customer_id, address_id)
);

CREATE TABLE customer_payment_sources (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    payment_source_token text NOT NULL,
    customer_token text,
    payment_method text,
    customer_id text NOT NULL REFERENCES customers (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, customer_id, payment_source_token)
);

CREATE TABLE customer_subscriptions (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    customer_id text NOT NULL REFERENCES customers (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, customer_id, reference)
);

CREATE TABLE gift_cards (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    code text NOT NULL,
    currency_code text NOT NULL,
    balance_cents int8 NOT NULL,
    balance_max_cents int8,
    single_use bool NOT NULL DEFAULT false,
    rechargeable bool NOT NULL DEFAULT false,
    expires_at timestamptz,
    recipient_email text,
    market_id text REFERENCES markets (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, code)
);

CREATE TABLE promotions (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    type text NOT NULL,
    percentage int8,
    fixed_amount_cents int8,
    currency_code text,
    starts_at timestamptz NOT NULL,
    expires_at timestamptz,
    total_usage_limit int8,
    market_id text REFERENCES markets (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, code)
);

CREATE TABLE coupon_codes_promotion_rules (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    promotion_code text,
    promotion_id text NOT NULL REFERENCES promotions (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, promotion_id)
);

CREATE TABLE coupons (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    code text NOT NULL,
    customer_single_use bool NOT NULL DEFAULT false,
    usage_limit int8,
    recipient_email text,
    coupon_codes_promotion_rule_id text NOT NULL REFERENCES coupon_codes_promotion_rules (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, code, coupon_codes_promotion_rule_id)
);

CREATE TABLE tax_categories (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    code text NOT NULL,
    sku_code text,
    tax_calculator_id text NOT NULL REFERENCES tax_calculators (id),
    sku_id text REFERENCES skus (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, code, tax_calculator_id)
);

CREATE TABLE orders (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    number text NOT NULL,
    currency_code text,
    customer_email text,
    language_code text,
    country_code text,
    status text NOT NULL DEFAULT 'draft',
    market_id text REFERENCES markets (id),
    customer_id text REFERENCES customers (id),
    shipping_address_id text REFERENCES addresses (id),
    billing_address_id text REFERENCES addresses (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, number)
);

CREATE TABLE line_items (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    sku_code text,
    bundle_code text,
    name text,
    quantity int8 NOT NULL,
    unit_amount_cents int8,
    compare_at_amount_cents int8,
    item_type text NOT NULL DEFAULT 'skus',
    order_id text NOT NULL REFERENCES orders (id),
    sku_id text REFERENCES skus (id),
    bundle_id text REFERENCES bundles (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, order_id, sku_code)
);

CREATE TABLE line_item_options (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    name text,
    quantity int8 NOT NULL,
    options jsonb NOT NULL DEFAULT '{}'::jsonb,
    line_item_id text NOT NULL REFERENCES line_items (id),
    sku_option_id text NOT NULL REFERENCES sku_options (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, line_item_id, sku_option_id)
);

-- Which records carry which tags (taggable types only; see the catalogue's `taggable`). A
-- record's id is unique across types, so the link needs no foreign key to its table.
CREATE TABLE taggings (
    organization_id text NOT NULL,
    mode text NOT NULL,
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    tag_id text NOT NULL REFERENCES tags (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (resource_type, resource_id, tag_id)
);
CREATE INDEX taggings_by_tag ON taggings (tag_id);
