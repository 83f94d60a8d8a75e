//! Create-time rules a declaration states beyond "required": conditional requirements (a
//! SKU's shipping category unless it does not ship), keys generated when an input leaves them
//! out (an order's number), and polymorphic references (a line item's `item_id`).

/// When a [`Condition`]'s attribute or relationship must be given to create a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Unless this other attribute or relationship is given (a gift card's currency, which
    /// the market gives).
    UnlessGiven(&'static str),
    /// Unless this boolean attribute is true (a SKU's shipping category, unless
    /// `do_not_ship`).
    UnlessTrue(&'static str),
    /// When this boolean attribute is true (an address's company, when `business`).
    WhenTrue(&'static str),
    /// When this boolean attribute is not true (an address's names, unless `business`).
    WhenNotTrue(&'static str),
    /// When this attribute has this value (a percentage promotion's `percentage`).
    WhenEquals(&'static str, &'static str),
}

/// An attribute or relationship required at create only under a [`Rule`], as Commerce
/// Layer's schema states ("required, unless inherited by market").
#[derive(Debug, Clone, Copy)]
pub struct Condition {
    /// The attribute or relationship name (`currency_code`, `shipping_category`).
    pub name: &'static str,
    /// When it is required.
    pub rule: Rule,
}

impl Condition {
    /// The rule in words, for errors and `GET /api/resource_types`
    /// (`unless market is given`).
    pub fn describe(&self) -> String {
        match self.rule {
            Rule::UnlessGiven(other) => format!("unless {other} is given"),
            Rule::UnlessTrue(flag) => format!("unless {flag} is true"),
            Rule::WhenTrue(flag) => format!("when {flag} is true"),
            Rule::WhenNotTrue(flag) => format!("unless {flag} is true"),
            Rule::WhenEquals(attr, value) => format!("when {attr} is {value}"),
        }
    }
}

/// A conditional requirement (declarations' shorthand).
pub(super) const fn condition(name: &'static str, rule: Rule) -> Condition {
    Condition { name, rule }
}

/// How a key an input leaves out is generated, as Commerce Layer generates it. The generated
/// key is unique in the organization and mode: one that is taken is drawn again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generated {
    /// A random code of 32 hexadecimal digits in UUID form (gift cards).
    Code,
    /// A number from a Postgres sequence (orders, stock transfers).
    Number,
    /// A slug made from this attribute (`Summer sale` -> `summer-sale`), with a random
    /// suffix when taken (SKU lists).
    SlugOf(&'static str),
}

/// A reference whose target type an attribute names: a line item's `item_id`, read as the
/// id of a SKU, a bundle or a gift card as `item_type` says.
#[derive(Debug, Clone, Copy)]
pub struct Polymorphic {
    /// The attribute holding the id (`item_id`), stored as given.
    pub id_attribute: &'static str,
    /// The attribute naming its type (`item_type`).
    pub type_attribute: &'static str,
    /// For each type value whose records are declared here, the relationship its id fills
    /// (`("skus", "sku")`); other types' ids are kept in `id_attribute` alone.
    pub relationships: &'static [(&'static str, &'static str)],
}
