//! Disclosure control on typed products: what a role receives of an
//! analysis result, decided by the type of each value (never its name).
//!
//! | type | role with full view | role without full view |
//! |---|---|---|
//! | `Count` | kept | the item goes when `0 < n < k` (`k_sensitive` with sensitive cases; the largest k of the output and the counted layer); no count: the item goes |
//! | `Sensitive`, `Value`, `Tally`, `Class`, `Key`, `Fixed`, `Param`, `Day` | kept | kept (computed from released groups only: see `release.rs`) |
//! | `FieldValue` | kept if the role may see the field | likewise |
//! | `Members` | kept if member lists are allowed | removed |
//! | `Reference`, `Name`, `Attribute` | kept if the role may see that individual, else an anonymous label / null | likewise |
//! | `Relation` to an individual | kept if the role may see that individual, else null | removed |
//! | `Subject` (the individual an item is about) | the item goes unless the role may see that individual | likewise |
//! | `Sum` over n individuals | kept when the role sees that layer in full, or n is 0 or at least k | likewise |
//! | `Position` | kept | moved to the centre of its cell of the minimum size |
//! | `EventTime` | kept | cut to the day |
//! | shape `Cell`, `Cells` | kept | kept (checked against the minimum cell) |
//! | shape `Hull` | kept | the envelope, snapped outward to the minimum cell |
//! | shape `Point` | kept | the item goes |
//!
//! Metadata counts are held to k like item counts (a count under k becomes
//! null); tables are gated row by row like items.

use super::aggregate::{snapped_envelope_ring, snapped_position};
use super::AggregateRules;
use crate::analysis::product::{Field, Fields, Item, Param, Product, Shape};
use crate::model::Layer;
use std::collections::{BTreeMap, HashMap};

/// What the gate knows when it discloses one product to one role.
pub struct Disclosure<'a> {
    /// The output rules (the main layer's, as strict as every layer read).
    pub rules: &'a AggregateRules,
    /// The rules of each layer read, for the counts of that layer.
    pub layers: &'a BTreeMap<Layer, AggregateRules>,
    /// Whether the role may see field `name` of `layer` on individual features.
    pub field_visible: &'a dyn Fn(Layer, &str) -> bool,
    /// Whether the role may see individual feature `id` of `layer`.
    pub shown: &'a dyn Fn(Layer, &str) -> bool,
}

/// Anonymous labels for individuals the role may not see, stable within one
/// product (`#1`, `#2` ... in order of first appearance).
#[derive(Default)]
struct Labels(HashMap<(Layer, String), String>);

impl Labels {
    fn of(&mut self, layer: Layer, id: &str) -> String {
        let n = self.0.len() + 1;
        self.0
            .entry((layer, id.to_string()))
            .or_insert_with(|| format!("#{n}"))
            .clone()
    }
}

impl Disclosure<'_> {
    fn layer_rules(&self, layer: Layer) -> &AggregateRules {
        self.layers.get(&layer).unwrap_or(self.rules)
    }

    /// Whether every count of `fields` may be shown; `false` without any
    /// count (fail closed) unless the rules are full.
    fn counts_pass(&self, fields: &Fields) -> bool {
        if self.rules.full {
            return true;
        }
        let sensitive = fields.iter().find_map(|(_, f)| match f {
            Field::Sensitive(n) => Some(*n),
            _ => None,
        });
        let mut any = false;
        for (_, f) in fields {
            if let Field::Count { layer, n } = f {
                any = true;
                // Incident aggregates without a sensitive count are taken
                // as wholly sensitive.
                let s = match (layer, sensitive) {
                    (Layer::Incidents, None) => *n,
                    (Layer::Incidents, Some(s)) => s,
                    _ => 0,
                };
                // Under the output rules (as strict as every layer read):
                // a product never weakens the rule of a layer it reads.
                let r = self.layer_rules(*layer);
                let strict = AggregateRules {
                    full: false,
                    k: r.k.max(self.rules.k),
                    k_sensitive: r.k_sensitive.max(self.rules.k_sensitive),
                    ..self.rules.clone()
                };
                if !strict.keeps(*n, s) {
                    return false;
                }
            }
        }
        any
    }

    /// One value as the role may see it; `None` removes it.
    fn field(&self, f: Field, labels: &mut Labels) -> Option<Field> {
        let full = self.rules.full;
        Some(match f {
            Field::FieldValue { layer, field, .. } if !(self.field_visible)(layer, field) => {
                Field::Null
            }
            Field::Members { .. } if !self.rules.list_members => return None,
            Field::Reference { prefix, layer, id } if !(self.shown)(layer, &id) => {
                Field::Key(format!("{prefix}{}", labels.of(layer, &id)))
            }
            Field::Name { layer, ref id, .. } | Field::Attribute { layer, ref id, .. }
                if !(self.shown)(layer, id) =>
            {
                Field::Null
            }
            Field::Relation { .. } if !full => return None,
            Field::Relation { layer, ref id, .. } if !(self.shown)(layer, id) => Field::Null,
            Field::Sum { layer, n, .. }
                if n > 0
                    && !self.layer_rules(layer).full
                    && n < self.layer_rules(layer).k as u64 =>
            {
                Field::Null
            }
            Field::Position(p) if !full => match snapped_position(p, self.rules.min_cell_m) {
                Some(p) => Field::Position(p),
                None => Field::Null,
            },
            Field::EventTime(t) if !full => match chrono::DateTime::from_timestamp(t, 0) {
                Some(d) => Field::Day(d.format("%Y-%m-%d").to_string()),
                None => Field::Null,
            },
            other => other,
        })
    }

    fn fields(&self, fields: Fields, labels: &mut Labels) -> Fields {
        fields
            .into_iter()
            .filter_map(|(k, v)| self.field(v, labels).map(|v| (k, v)))
            .collect()
    }

    /// Whether every individual the fields are about may be seen.
    fn subjects_shown(&self, fields: &Fields) -> bool {
        fields.iter().all(|(_, f)| match f {
            Field::Subject { layer, id } => (self.shown)(*layer, id),
            _ => true,
        })
    }

    fn item(&self, item: Item, labels: &mut Labels) -> Option<Item> {
        if !self.counts_pass(&item.properties) || !self.subjects_shown(&item.properties) {
            return None;
        }
        let geometry = match item.geometry {
            Shape::Point(_) if !self.rules.full => return None,
            Shape::Hull(ring) if !self.rules.full && self.rules.min_cell_m > 0.0 => {
                match snapped_envelope_ring(&ring, self.rules.min_cell_m) {
                    Some(r) => Shape::Hull(r),
                    None => Shape::None,
                }
            }
            other => other,
        };
        let id = match item.id {
            Field::Members { .. } if !self.rules.list_members => Field::Null,
            other => self.field(other, labels).unwrap_or(Field::Null),
        };
        Some(Item {
            id,
            geometry,
            properties: self.fields(item.properties, labels),
        })
    }

    /// The product as the role may receive it; the number of items and
    /// rows removed goes to `jointmap.suppressed`.
    pub fn apply(&self, p: Product) -> Product {
        let mut labels = Labels::default();
        let too_fine = !self.rules.full
            && p.grid
                .is_some_and(|g| g.side_m() + 1e-6 < self.rules.min_cell_m);
        let total = p.items.len();
        let items: Vec<Item> = if too_fine {
            Vec::new()
        } else {
            p.items
                .into_iter()
                .filter_map(|i| self.item(i, &mut labels))
                .collect()
        };
        let mut suppressed = total - items.len();
        let tables = p
            .tables
            .into_iter()
            .map(|(name, rows)| {
                let n = rows.len();
                let kept: Vec<Fields> = rows
                    .into_iter()
                    .filter(|r| !too_fine && self.counts_pass(r) && self.subjects_shown(r))
                    .map(|r| self.fields(r, &mut labels))
                    .collect();
                suppressed += n - kept.len();
                (name, kept)
            })
            .collect();
        let mut meta: Fields = p
            .meta
            .into_iter()
            .filter_map(|(k, v)| {
                let v = match v {
                    Field::Count { layer, n } if !self.rules.full => {
                        let r = self.layer_rules(layer);
                        let k_min = r.k.max(self.rules.k) as u64;
                        if n > 0 && n < k_min {
                            Field::Null
                        } else {
                            Field::Count { layer, n }
                        }
                    }
                    other => self.field(other, &mut labels)?,
                };
                Some((k, v))
            })
            .collect();
        meta.push(("suppressed", Field::param(suppressed)));
        if too_fine {
            meta.push((
                "withheld",
                Field::Param(Param::Text(format!(
                    "grid cells smaller than the minimum of {} m for this role",
                    self.rules.min_cell_m
                ))),
            ));
        }
        Product {
            analysis: p.analysis,
            grid: p.grid,
            meta,
            items,
            tables,
        }
    }
}
