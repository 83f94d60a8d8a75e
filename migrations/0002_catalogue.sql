-- One table per importable resource type, named as the type, one column per attribute.
-- Keep in step with common/src/catalogue.rs (a test checks that they agree).

CREATE TABLE shipping_categories (
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

CREATE TABLE skus (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    description text,
    image_url text,
    pieces_per_pack int8,
    weight float8,
    unit_of_weight text,
    hs_tariff_number text,
    do_not_ship bool NOT NULL DEFAULT false,
    do_not_track bool NOT NULL DEFAULT false,
    shipping_category_id text REFERENCES shipping_categories (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, code)
);

CREATE TABLE price_lists (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    currency_code text NOT NULL,
    tax_included bool NOT NULL DEFAULT false,
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, code)
);

CREATE TABLE prices (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    sku_code text NOT NULL,
    amount_cents int8 NOT NULL,
    compare_at_amount_cents int8,
    sku_id text NOT NULL REFERENCES skus (id),
    price_list_id text NOT NULL REFERENCES price_lists (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, sku_code, price_list_id)
);

CREATE TABLE stock_locations (
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

CREATE TABLE stock_items (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    sku_code text NOT NULL,
    quantity int8 NOT NULL,
    sku_id text NOT NULL REFERENCES skus (id),
    stock_location_id text NOT NULL REFERENCES stock_locations (id),
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, sku_code, stock_location_id)
);

CREATE TABLE customers (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL,
    email text NOT NULL,
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, mode, email)
);
