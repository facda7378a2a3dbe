//! Typed analysis products: what every analysis returns, with each value
//! saying what it is, so that the access gate decides by type (a count of
//! events, a reference to an individual, a time of an event ...) and never
//! by the name a property happens to have.
//!
//! A [`Product`] is a list of [`Item`]s (map features: a geometry and typed
//! properties), typed metadata (the `jointmap` member of the GeoJSON
//! output) and typed tables (rows without geometry, e.g. the impact table).
//! Encoders (GeoJSON, CSV) live in [`crate::render`]; the gate is
//! [`crate::access::Gate::disclose`].

use crate::model::Layer;

/// One typed value of a product.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// No value (written as null).
    Null,
    /// How many input features of `layer` are behind the item: the gate's
    /// minimum counts apply to it.
    Count {
        /// The layer counted.
        layer: Layer,
        /// The number.
        n: u64,
    },
    /// How many of the counted incidents are sexual-violence or child cases.
    Sensitive(u64),
    /// A number computed from the input data behind the item (a density, a
    /// weighted sum, a statistic, a ratio, a presence value).
    Value(f64),
    /// A number of results computed from the data (clusters found, cells
    /// selected), not of input features.
    Tally(u64),
    /// A yes/no computed from the data (a hot spot, a blind cell).
    Flag(bool),
    /// A class computed from the data (hot spot class, risk band ...).
    Class(String),
    /// A value of the input field `field` of `layer` (e.g. a cluster's leading
    /// perpetrator): shown only to roles that may see that field.
    FieldValue {
        /// The layer the field belongs to.
        layer: Layer,
        /// The field's name in the schema.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// Ids of the input features behind the item.
    Members {
        /// Their layer.
        layer: Layer,
        /// The ids.
        ids: Vec<String>,
    },
    /// The id of one individual feature (a base, a site, a unit, an event),
    /// written after `prefix` (e.g. `base:`).
    Reference {
        /// Written before the id (or the anonymous label).
        prefix: &'static str,
        /// Its layer.
        layer: Layer,
        /// Its id.
        id: String,
    },
    /// The name of one individual feature.
    Name {
        /// Its layer.
        layer: Layer,
        /// Its id (for the gate's check).
        id: String,
        /// The name.
        name: String,
    },
    /// A property of one individual feature (e.g. a site's population).
    Attribute {
        /// Its layer.
        layer: Layer,
        /// Its id (for the gate's check).
        id: String,
        /// The value.
        value: f64,
    },
    /// A relation of the item to one individual feature (the base whose
    /// reach covers a cell, the nearest base and its distance): across
    /// items it gives away the individual's position and reach, so it
    /// reaches only roles that see every layer read in full, and then only
    /// for individuals they may see. `value` is what is written.
    Relation {
        /// The individual's layer.
        layer: Layer,
        /// Its id (for the gate's check).
        id: String,
        /// The value written (its id, name, type or distance).
        value: Box<Field>,
    },
    /// The individual feature an item is about (the base whose onset a
    /// treated cell shows): the item reaches only roles that may see that
    /// individual. Never written.
    Subject {
        /// Its layer.
        layer: Layer,
        /// Its id.
        id: String,
    },
    /// A sum of a property over `n` individual features of `layer` (the
    /// people at the civilian sites near a blind spot): held to the minimum
    /// count of that layer like a count.
    Sum {
        /// Their layer.
        layer: Layer,
        /// How many features are summed.
        n: u64,
        /// The sum.
        value: f64,
    },
    /// A position computed from individual positions (a centroid).
    Position([f64; 2]),
    /// The time of an individual event (Unix seconds, UTC).
    EventTime(i64),
    /// A day (`YYYY-MM-DD`): an event time coarsened by the gate.
    Day(String),
    /// A key of the grid or of the product's own structure (cell key,
    /// cluster label): no information about the data.
    Key(String),
    /// A fact of the grid or the method (a cell's area), not of the data.
    Fixed(f64),
    /// A request parameter or method description.
    Param(Param),
}

/// A parameter or method description, as given or chosen by rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// No value.
    Null,
    /// Text.
    Text(String),
    /// A number.
    Num(f64),
    /// An integer.
    Int(i64),
    /// A flag.
    Bool(bool),
    /// A list.
    List(Vec<Param>),
    /// Named members, in order.
    Object(Vec<(&'static str, Param)>),
    /// A request's parameters by their command-line (and query) names, as
    /// recorded to re-run it: JSON values, in the request's order.
    Record(serde_json::Map<String, serde_json::Value>),
}

impl From<&str> for Param {
    fn from(s: &str) -> Param {
        Param::Text(s.to_string())
    }
}
impl From<String> for Param {
    fn from(s: String) -> Param {
        Param::Text(s)
    }
}
impl From<f64> for Param {
    fn from(x: f64) -> Param {
        Param::Num(x)
    }
}
impl From<bool> for Param {
    fn from(b: bool) -> Param {
        Param::Bool(b)
    }
}
impl From<usize> for Param {
    fn from(n: usize) -> Param {
        Param::Int(n as i64)
    }
}
impl From<u64> for Param {
    fn from(n: u64) -> Param {
        Param::Int(n as i64)
    }
}
impl From<i64> for Param {
    fn from(n: i64) -> Param {
        Param::Int(n)
    }
}
impl From<u8> for Param {
    fn from(n: u8) -> Param {
        Param::Int(n as i64)
    }
}
impl<T: Into<Param>> From<Option<T>> for Param {
    fn from(v: Option<T>) -> Param {
        v.map_or(Param::Null, Into::into)
    }
}

impl Field {
    /// A parameter value.
    pub fn param(p: impl Into<Param>) -> Field {
        Field::Param(p.into())
    }

    /// A class, or null.
    pub fn class(c: Option<impl Into<String>>) -> Field {
        c.map_or(Field::Null, |c| Field::Class(c.into()))
    }

    /// A relation of the item to individual `id` of `layer`, written as
    /// `value`.
    pub fn relation(layer: Layer, id: &str, value: Field) -> Field {
        Field::Relation {
            layer,
            id: id.to_string(),
            value: Box::new(value),
        }
    }

    /// A relation to no individual of `layer` (null), removed like any
    /// relation for roles without full view.
    pub fn no_relation(layer: Layer) -> Field {
        Field::Relation {
            layer,
            id: String::new(),
            value: Box::new(Field::Null),
        }
    }

    /// An event time, or null.
    pub fn time(t: Option<i64>) -> Field {
        t.map_or(Field::Null, Field::EventTime)
    }
}

/// The geometry of an item, by what it is made of.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// No geometry.
    None,
    /// One grid cell: its closed lon/lat ring.
    Cell(Vec<[f64; 2]>),
    /// A union of whole grid cells.
    Cells(geo_types::MultiPolygon<f64>),
    /// A polygon built from individual positions (a cluster's hull): a
    /// closed lon/lat ring.
    Hull(Vec<[f64; 2]>),
    /// The position of one individual feature.
    Point([f64; 2]),
    /// A position computed from individual positions (a cluster's centre),
    /// written as a point: disclosed like [`Field::Position`].
    Centroid([f64; 2]),
}

/// Named typed values, in output order.
pub type Fields = Vec<(&'static str, Field)>;

/// One feature of a product.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The feature id.
    pub id: Field,
    /// Its geometry.
    pub geometry: Shape,
    /// Its properties.
    pub properties: Fields,
}

impl Item {
    /// The first count of `layer` among the properties.
    pub fn count(&self, layer: Layer) -> Option<u64> {
        self.properties.iter().find_map(|(_, f)| match f {
            Field::Count { layer: l, n } if *l == layer => Some(*n),
            _ => None,
        })
    }
}

/// The grid a product's items are cells of, for the gate's minimum cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProductGrid {
    /// Square cells of this side, metres.
    Square(f64),
    /// H3 cells at this resolution.
    H3(u8),
}

impl ProductGrid {
    /// The side of a square as large as one cell, metres.
    pub fn side_m(self) -> f64 {
        match self {
            ProductGrid::Square(m) => m,
            ProductGrid::H3(r) => h3o::Resolution::try_from(r).map_or(0.0, |r| r.area_m2().sqrt()),
        }
    }
}

/// An analysis result.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// The analysis's name (`hotspots`, `clusters` ...).
    pub analysis: &'static str,
    /// The grid the items are cells of, if any.
    pub grid: Option<ProductGrid>,
    /// Method, parameters and totals (the GeoJSON `jointmap` member).
    pub meta: Fields,
    /// The features.
    pub items: Vec<Item>,
    /// Tables of rows without geometry, by name (written in `jointmap`).
    pub tables: Vec<(&'static str, Vec<Fields>)>,
}

impl Product {
    /// A product with no items yet.
    pub fn new(analysis: &'static str) -> Product {
        Product {
            analysis,
            grid: None,
            meta: vec![("analysis", Field::param(analysis))],
            items: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// A metadata value by name.
    pub fn meta(&self, name: &str) -> Option<&Field> {
        self.meta.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}
