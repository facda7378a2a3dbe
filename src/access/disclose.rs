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
            Shape::Centroid(p) if !self.rules.full => {
                match snapped_position(p, self.rules.min_cell_m) {
                    Some(p) => Shape::Centroid(p),
                    None => Shape::None,
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{analysis_rules, Gate, Policy, Principal, Role};
    use crate::analysis::product::ProductGrid;

    fn principal(role: Role) -> Principal {
        Principal {
            name: role.to_string(),
            role,
            ingest: vec![],
        }
    }

    fn disclose(role: Role, reads: &[Layer], p: Product) -> Product {
        let gate = Gate::new(Policy::default(), None).unwrap();
        let (rules, layers) = analysis_rules(&gate, &principal(role), reads[0], reads).unwrap();
        Disclosure {
            rules: &rules,
            layers: &layers,
            field_visible: &|layer, name| gate.field_visible(&principal(role), layer, name),
            shown: &|layer, id| layer == Layer::Bases && id == "visible-base",
        }
        .apply(p)
    }

    fn cell(count: u64, extra: Fields) -> Item {
        let mut properties = vec![
            ("cell", Field::Key("r1c1".into())),
            (
                "count",
                Field::Count {
                    layer: Layer::Incidents,
                    n: count,
                },
            ),
            ("count_sensitive", Field::Sensitive(0)),
        ];
        properties.extend(extra);
        Item {
            id: Field::Key("r1c1".into()),
            geometry: Shape::Cell(vec![[18.0, 4.0], [18.1, 4.0], [18.1, 4.1], [18.0, 4.0]]),
            properties,
        }
    }

    /// The gate is structural: fields of names it has never seen are gated
    /// by their type alone.
    #[test]
    fn new_fields_of_new_names_are_gated_by_type() {
        let mut p = Product::new("future-product");
        p.grid = Some(ProductGrid::Square(10_000.0));
        p.items.push(cell(
            12,
            vec![
                (
                    "zz_who_did_it",
                    Field::FieldValue {
                        layer: Layer::Incidents,
                        field: "perpetrator",
                        value: "CANARY-ACTOR".into(),
                    },
                ),
                (
                    "zz_victims",
                    Field::Members {
                        layer: Layer::Incidents,
                        ids: vec!["CANARY-ID".into()],
                    },
                ),
                (
                    "zz_when",
                    Field::EventTime(1_740_998_813), // 2025-03-03T10:46:53Z
                ),
                ("zz_where", Field::Position([18.123456, 4.654321])),
                (
                    "zz_near",
                    Field::Relation {
                        layer: Layer::Bases,
                        id: "visible-base".into(),
                        value: Box::new(Field::Key("CANARY-BASE".into())),
                    },
                ),
                (
                    "zz_people",
                    Field::Sum {
                        layer: Layer::Sites,
                        n: 1,
                        value: 987_654.0,
                    },
                ),
                (
                    "zz_base",
                    Field::Reference {
                        prefix: "base:",
                        layer: Layer::Bases,
                        id: "CANARY-HIDDEN-BASE".into(),
                    },
                ),
            ],
        ));
        // A point of one individual, a count under k, an item without a count.
        p.items.push(Item {
            id: Field::Key("pt".into()),
            geometry: Shape::Point([18.5, 4.5]),
            properties: vec![(
                "count",
                Field::Count {
                    layer: Layer::Incidents,
                    n: 20,
                },
            )],
        });
        p.items.push(cell(3, vec![]));
        p.items.push(Item {
            properties: vec![("zz_total", Field::Value(1.0))],
            ..cell(0, vec![])
        });
        p.meta.push((
            "zz_events",
            Field::Count {
                layer: Layer::Incidents,
                n: 2,
            },
        ));
        let text = format!(
            "{:?}",
            disclose(
                Role::Partner,
                &[Layer::Incidents, Layer::Sites, Layer::Bases],
                p.clone()
            )
        );
        for canary in ["CANARY", "987654", "18.123456", "10:46", "1740998813"] {
            assert!(!text.contains(canary), "partner got {canary}: {text}");
        }
        let out = disclose(
            Role::Partner,
            &[Layer::Incidents, Layer::Sites, Layer::Bases],
            p.clone(),
        );
        assert_eq!(out.items.len(), 1, "{out:?}");
        assert_eq!(out.meta("zz_events"), Some(&Field::Null));
        assert_eq!(out.meta("suppressed"), Some(&Field::Param(Param::Int(3))));
        let props = &out.items[0].properties;
        let get = |n: &str| props.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        assert_eq!(get("zz_who_did_it"), Some(Field::Null));
        assert_eq!(get("zz_victims"), None);
        assert_eq!(get("zz_near"), None);
        assert_eq!(get("zz_when"), Some(Field::Day("2025-03-03".into())));
        assert_eq!(get("zz_base"), Some(Field::Key("base:#1".into())));
        // jmac may see perpetrators: the same field reaches it.
        let out = disclose(Role::Jmac, &[Layer::Incidents], p.clone());
        let props = &out.items[0].properties;
        assert!(props.iter().any(|(_, v)| *v
            == Field::FieldValue {
                layer: Layer::Incidents,
                field: "perpetrator",
                value: "CANARY-ACTOR".into()
            }));
        // Hr sees incidents in full: everything but what no role may see
        // individually (hidden bases) reaches it.
        let out = disclose(Role::Hr, &[Layer::Incidents], p);
        assert_eq!(out.items.len(), 4);
        let text = format!("{out:?}");
        assert!(text.contains("CANARY-ID") && text.contains("18.123456"));
        assert!(!text.contains("CANARY-HIDDEN-BASE"));
    }

    /// Grids finer than the role's minimum cell withhold every item.
    #[test]
    fn grids_finer_than_the_minimum_withhold_everything() {
        let mut p = Product::new("hotspots");
        p.grid = Some(ProductGrid::Square(5_000.0));
        p.items.push(cell(50, vec![]));
        let out = disclose(Role::Military, &[Layer::Incidents], p.clone());
        assert!(out.items.is_empty());
        assert!(out.meta("withheld").is_some());
        p.grid = Some(ProductGrid::H3(6));
        assert!(disclose(Role::Military, &[Layer::Incidents], p.clone())
            .items
            .is_empty());
        p.grid = Some(ProductGrid::H3(5));
        assert_eq!(
            disclose(Role::Military, &[Layer::Incidents], p).items.len(),
            1
        );
    }

    /// Hulls of individual positions become whole cells of the minimum size.
    #[test]
    fn hulls_and_positions_are_coarsened() {
        let mut p = Product::new("clusters");
        let hull = vec![
            [18.0123, 4.0345],
            [18.2456, 4.0345],
            [18.2456, 4.3789],
            [18.0123, 4.0345],
        ];
        p.items.push(Item {
            id: Field::Key("cluster-1".into()),
            geometry: Shape::Hull(hull.clone()),
            properties: vec![
                (
                    "count",
                    Field::Count {
                        layer: Layer::Incidents,
                        n: 12,
                    },
                ),
                ("count_sensitive", Field::Sensitive(0)),
                ("centroid", Field::Position([18.1234, 4.1234])),
            ],
        });
        let out = disclose(Role::Military, &[Layer::Incidents], p);
        let Shape::Hull(ring) = &out.items[0].geometry else {
            panic!("{:?}", out.items[0].geometry)
        };
        assert_eq!(ring.len(), 5);
        let dlat = 10_000.0 / 111_320.0;
        assert!(ring[0][0] <= 18.0123 && ring[1][0] >= 18.2456);
        assert!(ring[0][1] <= 4.0345 && ring[2][1] >= 4.3789);
        for p in ring {
            assert!(!hull.contains(p));
            let k = p[1] / dlat;
            assert!((k - k.round()).abs() < 1e-4, "{p:?}");
        }
        let c = out.items[0]
            .properties
            .iter()
            .find(|(k, _)| *k == "centroid")
            .unwrap();
        assert_ne!(c.1, Field::Position([18.1234, 4.1234]));
    }
}
