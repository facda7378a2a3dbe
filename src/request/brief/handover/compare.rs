//! The handover pack's comparisons (then against now, on the gated
//! products) and the pack as a product: split from `handover.rs`, which
//! makes the parts and holds the types.

use super::*;

impl Handover {
    /// Hot spots then against now, matched by overlap (a cell of one
    /// covering at least half of the other's).
    pub(super) fn compare_hot(
        &mut self,
        now: &Product,
        then: &Product,
        cov_now: Option<&Product>,
        blind_now: Option<&Product>,
    ) {
        let now_cells = cells(now, "hot_steps");
        let then_cells = cells(then, "hot_steps");
        let cov = cov_now.map(|c| cells(c, "presence")).unwrap_or_default();
        let spots = blind_now.map(blind_spots).unwrap_or_default();
        let pattern = |it: &Item| text(it, "pattern").unwrap_or_else(|| "no-pattern".into());
        let other = |cs: &[(PartCell, &Item)], ring: &[[f64; 2]]| {
            matching(cs, ring).map_or_else(|| "no-pattern".to_string(), |(_, it)| pattern(it))
        };
        let mut hot = Vec::new();
        for (c, it) in &now_cells {
            let p = pattern(it);
            if !is_hot(&p) {
                continue;
            }
            let before = other(&then_cells, &c.ring);
            let change = if is_hot(&before) {
                HotChange::Persisted
            } else {
                HotChange::Emerged
            };
            hot.push((c, it, before, p, change));
        }
        for (c, it) in &then_cells {
            let p = pattern(it);
            if !is_hot(&p) {
                continue;
            }
            let after = other(&now_cells, &c.ring);
            if !is_hot(&after) {
                hot.push((c, it, p, after, HotChange::Faded));
            }
        }
        self.hot = hot
            .into_iter()
            .map(|(c, it, then, now, change)| {
                let pt = geo_types::Point::new(c.centre[0], c.centre[1]);
                HotSpot {
                    cell: text(it, "cell").unwrap_or_default(),
                    ring: c.ring.clone(),
                    centre: c.centre,
                    then,
                    now,
                    change,
                    count: prop(it, "count").cloned().unwrap_or(Field::Null),
                    presence_now: weighted(&cov, &c.ring),
                    blind_now: spots
                        .iter()
                        .find(|(b, _)| {
                            use geo::Contains;
                            b.rings
                                .iter()
                                .any(|r| super::super::cells::polygon(r).contains(&pt))
                        })
                        .map(|(b, _)| (b.kind.clone(), b.rank)),
                    label: 0,
                }
            })
            .collect();
        self.hot.sort_by(|a, b| {
            a.change
                .cmp(&b.change)
                .then_with(|| count_of(&b.count).cmp(&count_of(&a.count)))
                .then_with(|| a.cell.cmp(&b.cell))
        });
        for (i, h) in self.hot.iter_mut().enumerate() {
            h.label = i + 1;
        }
    }

    /// Presence then against now, per cell of either, by overlap.
    pub(super) fn compare_coverage(&mut self, then: Option<&Product>, now: Option<&Product>) {
        let (Some(then), Some(now)) = (then, now) else {
            return;
        };
        let tc = cells(then, "presence");
        let nc = cells(now, "presence");
        let mut kept = 0;
        for (c, _) in &nc {
            let before = weighted(&tc, &c.ring);
            match (before >= COVERED, c.value >= COVERED) {
                (false, true) => self.coverage.push(CoverCell {
                    ring: c.ring.clone(),
                    then: before,
                    now: c.value,
                    change: CoverChange::Gained,
                }),
                (true, true) => kept += 1,
                _ => {}
            }
        }
        for (c, _) in &tc {
            let after = weighted(&nc, &c.ring);
            if c.value >= COVERED && after < COVERED {
                self.coverage.push(CoverCell {
                    ring: c.ring.clone(),
                    then: c.value,
                    now: after,
                    change: CoverChange::Lost,
                });
            }
        }
        self.covered_kept = kept;
        let present = |cs: Vec<(PartCell, &Item)>| {
            cs.into_iter()
                .filter(|(c, _)| c.value > 0.0)
                .map(|(c, _)| c)
                .collect()
        };
        self.presence_then = present(tc);
        self.presence_now = present(nc);
        let (b_then, b_now) = (bases(then), bases(now));
        // A role that may not see bases gets no relation at all: no list.
        let any_relation = [then, now]
            .iter()
            .any(|p| p.items.iter().any(|it| prop(it, "base_id").is_some()));
        if any_relation {
            let mut list: Vec<Base> = b_now
                .iter()
                .map(|(id, name, c)| Base {
                    id: id.clone(),
                    name: name.clone(),
                    centre: *c,
                    change: if b_then.iter().any(|b| b.0 == *id) {
                        BaseChange::Kept
                    } else {
                        BaseChange::Opened
                    },
                })
                .collect();
            list.extend(
                b_then
                    .iter()
                    .filter(|b| !b_now.iter().any(|n| n.0 == b.0))
                    .map(|(id, name, c)| Base {
                        id: id.clone(),
                        name: name.clone(),
                        centre: *c,
                        change: BaseChange::Closed,
                    }),
            );
            list.sort_by(|a, b| a.change.cmp(&b.change).then_with(|| a.id.cmp(&b.id)));
            self.bases = Some(list);
        }
    }

    /// Blind spots then against now: overlapping ones of a kind persist.
    pub(super) fn compare_blind(&mut self, then: Option<&Product>, now: Option<&Product>) {
        let (Some(then), Some(now)) = (then, now) else {
            return;
        };
        let (t, n) = (blind_spots(then), blind_spots(now));
        for (b, sites) in &n {
            let change = if t.iter().any(|(o, _)| overlap(b, o)) {
                BlindChange::Persisting
            } else {
                BlindChange::New
            };
            self.blind.push(HandoverBlind {
                spot: b.clone(),
                change,
                sites: *sites,
            });
        }
        for (b, sites) in &t {
            if !n.iter().any(|(o, _)| overlap(b, o)) {
                self.blind.push(HandoverBlind {
                    spot: b.clone(),
                    change: BlindChange::Closed,
                    sites: *sites,
                });
            }
        }
        self.blind.sort_by(|a, b| {
            (a.change, &a.spot.kind, a.spot.rank).cmp(&(b.change, &b.spot.kind, b.spot.rank))
        });
    }

    /// The "what to know" list, by the documented rules, in their order.
    pub(super) fn what_to_know(&self) -> Vec<Know> {
        let mut out = Vec::new();
        let mut persistent: Vec<&HotSpot> = self
            .hot
            .iter()
            .filter(|h| h.change == HotChange::Persisted && h.presence_now < COVERED)
            .collect();
        persistent.sort_by(|a, b| {
            count_of(&b.count)
                .cmp(&count_of(&a.count))
                .then_with(|| a.cell.cmp(&b.cell))
        });
        out.extend(persistent.iter().take(KNOW_PERSISTENT).map(|h| Know {
            rule: "persistent-uncovered",
            subject: h.cell.clone(),
            value: count_of(&h.count),
        }));
        let mut emerged: Vec<&HotSpot> = self
            .hot
            .iter()
            .filter(|h| h.change == HotChange::Emerged && h.blind_now.is_some())
            .collect();
        emerged.sort_by(|a, b| {
            count_of(&b.count)
                .cmp(&count_of(&a.count))
                .then_with(|| a.cell.cmp(&b.cell))
        });
        out.extend(emerged.iter().take(KNOW_OTHER).map(|h| Know {
            rule: "emerged-blind",
            subject: h.cell.clone(),
            value: count_of(&h.count),
        }));
        let mut rising: Vec<(&SightCell, u64)> = self
            .sightings
            .iter()
            .filter_map(|c| match (c.first, c.second) {
                (Some(f), Some(s)) if s > f => Some((c, s - f)),
                _ => None,
            })
            .collect();
        rising.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cell.cmp(&b.0.cell)));
        out.extend(rising.iter().take(KNOW_OTHER).map(|(c, d)| Know {
            rule: "sightings-rising",
            subject: c.cell.clone(),
            value: *d,
        }));
        let mut new: Vec<&HandoverBlind> = self
            .blind
            .iter()
            .filter(|b| b.change == BlindChange::New)
            .collect();
        new.sort_by(|a, b| (a.spot.rank, &a.spot.kind).cmp(&(b.spot.rank, &b.spot.kind)));
        out.extend(new.iter().take(KNOW_OTHER).map(|b| Know {
            rule: "new-blind-spot",
            subject: format!("{}-{}", b.spot.kind, b.spot.rank),
            value: b.spot.rank,
        }));
        out
    }

    /// The pack as a product: one feature per hot spot, sightings cell,
    /// coverage change, blind spot and base, with a `section`; the monthly
    /// counts and the "what to know" list in its metadata.
    pub fn to_product(&self, brief: &Brief) -> Product {
        let mut p = Product::new("brief");
        let r = &brief.request;
        p.meta.extend([
            ("kind", Field::param(brief.kind.as_str())),
            ("as_of", Field::param(rfc3339(r.as_of))),
            ("period_start", Field::param(rfc3339(self.start))),
            ("months", Field::param(i64::from(self.months.get()))),
            ("lang", Field::param(r.lang.code())),
            ("role", Field::Param(brief.role.clone().into())),
            ("mission", Field::param(r.mission.as_str())),
            ("cell_km", Field::param(r.cell_km)),
            ("rule", Field::param(RULE)),
            (
                "unavailable",
                Field::Param(Param::List(
                    brief
                        .unavailable
                        .iter()
                        .map(|(n, why)| {
                            Param::Object(vec![
                                ("part", (*n).into()),
                                ("reason", why.clone().into()),
                            ])
                        })
                        .collect(),
                )),
            ),
            (
                "monthly",
                Field::Param(Param::Object(vec![
                    ("step_days", self.monthly.step_days.into()),
                    (
                        "steps",
                        Param::List(
                            self.monthly
                                .steps
                                .iter()
                                .map(|s| s.as_str().into())
                                .collect(),
                        ),
                    ),
                    (
                        "rows",
                        Param::List(
                            self.monthly
                                .rows
                                .iter()
                                .map(|(c, n)| {
                                    Param::Object(vec![
                                        ("category", c.as_str().into()),
                                        (
                                            "counts",
                                            Param::List(
                                                n.iter().map(|&x| Param::Int(x as i64)).collect(),
                                            ),
                                        ),
                                    ])
                                })
                                .collect(),
                        ),
                    ),
                ])),
            ),
            (
                "what_to_know",
                Field::Param(Param::List(
                    self.know
                        .iter()
                        .map(|k| {
                            Param::Object(vec![
                                ("rule", k.rule.into()),
                                ("subject", k.subject.as_str().into()),
                                ("value", Param::Int(k.value as i64)),
                            ])
                        })
                        .collect(),
                )),
            ),
        ]);
        let feature = |id: String, ring: Shape, props: Fields| Item {
            id: Field::Key(id),
            geometry: ring,
            properties: props,
        };
        for h in &self.hot {
            p.items.push(feature(
                format!("hotspot-{}", h.label),
                Shape::Cell(h.ring.clone()),
                vec![
                    ("section", Field::Class("hotspot".into())),
                    ("change", Field::Class(h.change.as_str().into())),
                    ("cell", Field::Key(h.cell.clone())),
                    ("pattern_then", Field::Class(h.then.clone())),
                    ("pattern_now", Field::Class(h.now.clone())),
                    ("count", h.count.clone()),
                    ("presence_now", Field::Value(h.presence_now)),
                    (
                        "blind_spot",
                        h.blind_now
                            .as_ref()
                            .map_or(Field::Null, |(k, r)| Field::Key(format!("{k}-{r}"))),
                    ),
                ],
            ));
        }
        let count = |n: Option<u64>| {
            n.map_or(Field::Null, |n| Field::Count {
                layer: Layer::Sightings,
                n,
            })
        };
        for s in &self.sightings {
            p.items.push(feature(
                format!("sightings-{}", s.cell),
                Shape::Cell(s.ring.clone()),
                vec![
                    ("section", Field::Class("sightings".into())),
                    ("change", Field::Class(s.change.as_str().into())),
                    ("cell", Field::Key(s.cell.clone())),
                    ("first_half", count(s.first)),
                    ("second_half", count(s.second)),
                ],
            ));
        }
        for (i, c) in self.coverage.iter().enumerate() {
            p.items.push(feature(
                format!("coverage-{}", i + 1),
                Shape::Cell(c.ring.clone()),
                vec![
                    ("section", Field::Class("coverage".into())),
                    ("change", Field::Class(c.change.as_str().into())),
                    ("presence_then", Field::Value(c.then)),
                    ("presence_now", Field::Value(c.now)),
                ],
            ));
        }
        for b in &self.blind {
            let poly = geo_types::MultiPolygon(
                b.spot
                    .rings
                    .iter()
                    .map(|r| super::super::cells::polygon(r))
                    .collect(),
            );
            p.items.push(feature(
                format!(
                    "blind-spot-{}-{}-{}",
                    b.change.as_str(),
                    b.spot.kind,
                    b.spot.rank
                ),
                Shape::Cells(poly),
                vec![
                    ("section", Field::Class("blind_spot".into())),
                    ("change", Field::Class(b.change.as_str().into())),
                    ("kind", Field::Key(b.spot.kind.clone())),
                    ("rank", Field::Tally(b.spot.rank)),
                    (
                        "site_population",
                        b.sites.map_or(Field::Null, |(n, value)| Field::Sum {
                            layer: Layer::Sites,
                            n,
                            value,
                        }),
                    ),
                ],
            ));
        }
        for b in self.bases.iter().flatten() {
            p.items.push(feature(
                format!("base-{}", b.id),
                Shape::Point(b.centre),
                vec![
                    ("section", Field::Class("base".into())),
                    ("change", Field::Class(b.change.as_str().into())),
                    ("base_id", Field::Key(b.id.clone())),
                    ("base_name", Field::Key(b.name.clone())),
                ],
            ));
        }
        p
    }
}
