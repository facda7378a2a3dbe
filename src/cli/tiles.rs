//! `jointmap render-tiles` and `jointmap export-mbtiles`: offline packages
//! of map tiles for field offices without connectivity.
//!
//! Every tile of a role (`--as-role`) is what the server answers that role:
//! the content comes from [`crate::access::Gate::tile`] with the bounds the
//! server asks for, drawn by the same renderers. Without `--as-role` the
//! operator (who holds the store file) gets every feature, as `jointmap
//! export` gives it. Tiles are drawn in parallel (rayon) and written in
//! chunks, behind a progress bar.

mod params;

pub use params::{AnalysisParams, TileFilter};

use super::{existing_store, progress_bar, Cli};
use crate::access::{Gate, Principal, Role, TileFeature, TileKind, TileStream};
use crate::analysis::AnalysisError;
use crate::model::{FieldKind, Layer};
use crate::render::tiles::cut::{self, Surface, TileFormat, JOINT_STORE};
use crate::render::tiles::mbtiles::{MbtilesWriter, Metadata, PackageFormat};
use crate::render::tiles::{
    self, HeatParams, Overlay, Scale, TileError, TileId, TileLayer, MAX_ZOOM,
};
use crate::request::events::FilterArgs;
use crate::server::problem::ApiError;
use crate::store::{FeatureSource, Query, StoreError};
use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde_json::{json, Map, Value};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// The most tiles one command draws: z5-z12 over a country the size of the
/// Central African Republic is about 20,400.
pub const MAX_TILES: u64 = 200_000;

/// Tiles drawn in parallel before they are written.
const CHUNK: usize = 512;

/// What both commands take: the layer, the area, the zooms and the role.
#[derive(Debug, clap::Args)]
pub struct Area {
    /// The tile layer: incidents, sightings, patrols, bases, sites, heat,
    /// or an analysis overlay (hotspots, moran, presence, risk,
    /// blindspots) or the joint map, computed once for the whole package.
    #[arg(long, value_parser = parse_layer)]
    pub layer: TileLayer,
    /// The area, min_lon,min_lat,max_lon,max_lat (not across the antimeridian).
    #[arg(long, value_parser = crate::request::parse_bbox, allow_hyphen_values = true)]
    pub bbox: [f64; 4],
    /// The zoom levels, `MIN-MAX` or one zoom, within 0-18.
    #[arg(long, value_parser = parse_zooms)]
    pub zoom: RangeInclusive<u8>,
    /// The tiles ROLE (hr, military, jmac, partner) receives from the server.
    #[arg(long, value_name = "ROLE")]
    pub as_role: Option<Role>,
    /// The server configuration whose `[access]` policy applies with --as-role.
    #[arg(long, value_name = "FILE", requires = "as_role")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub filter: TileFilter,
    #[command(flatten)]
    pub analysis: AnalysisParams,
}

impl Area {
    /// Every tile parameter given, as the server's query pairs.
    fn pairs(&self) -> params::Pairs {
        let mut pairs = self.filter.pairs();
        pairs.extend(self.analysis.pairs.iter().cloned());
        pairs
    }
}

/// The format of a disk tile tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TreeFormat {
    /// PNG, 256 px (`{y}.png`).
    Png,
    /// PNG, 512 px (`{y}@2x.png`).
    Png2x,
    /// Mapbox Vector Tiles (`{y}.mvt`).
    Mvt,
}

/// The format of an MBTiles package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MbtilesFormat {
    /// PNG, 256 px.
    Png,
    /// Mapbox Vector Tiles (gzip-compressed in the package).
    Mvt,
}

/// `jointmap render-tiles`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub area: Area,
    /// Tile format.
    #[arg(long, value_enum, default_value = "png")]
    pub format: TreeFormat,
    /// The tile tree's root: tiles go to DIR/{layer}/{z}/{x}/{y}.{ext}.
    #[arg(long, value_name = "DIR", default_value = "tiles")]
    pub out: PathBuf,
}

/// `jointmap export-mbtiles`.
#[derive(Debug, clap::Args)]
pub struct MbtilesArgs {
    #[command(flatten)]
    pub area: Area,
    /// Tile format.
    #[arg(long, value_enum, default_value = "png")]
    pub format: MbtilesFormat,
    /// The MBTiles file to write (replaced only once complete).
    #[arg(long, short)]
    pub output: PathBuf,
}

fn parse_layer(s: &str) -> Result<TileLayer, String> {
    s.parse()
}

/// `MIN-MAX` or `Z`, within 0 to [`MAX_ZOOM`].
pub fn parse_zooms(s: &str) -> Result<RangeInclusive<u8>, String> {
    let z = |p: &str| {
        p.trim()
            .parse::<u8>()
            .ok()
            .filter(|z| *z <= MAX_ZOOM)
            .ok_or_else(|| format!("zoom {p:?} is not a whole number within 0-{MAX_ZOOM}"))
    };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (z(a)?, z(b)?),
        None => (z(s)?, z(s)?),
    };
    if a > b {
        return Err(format!("zoom range {s:?} is empty (MIN above MAX)"));
    }
    Ok(a..=b)
}

/// The tile column and row of lon/lat at zoom `z`, clamped into the grid.
fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let lat = lat
        .clamp(-tiles::mercator::MAX_LAT, tiles::mercator::MAX_LAT)
        .to_radians();
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let y = ((1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor();
    let max = n - 1.0;
    (x.clamp(0.0, max) as u32, y.clamp(0.0, max) as u32)
}

/// The tiles covering `bbox` at each zoom of `zooms`, zoom by zoom, row by
/// row; refused when the box crosses the antimeridian or the tiles are
/// more than [`MAX_TILES`].
pub fn covering(bbox: [f64; 4], zooms: RangeInclusive<u8>) -> crate::Result<Vec<TileId>> {
    if bbox[0] >= bbox[2] {
        return Err(AnalysisError::param(
            "bbox",
            "min_lon must be below max_lon (a box across the antimeridian is two packages)",
        )
        .into());
    }
    let mut total = 0u64;
    let mut ranges = Vec::new();
    for z in zooms {
        let (x0, y0) = tile_of(bbox[0], bbox[3], z);
        let (x1, y1) = tile_of(bbox[2], bbox[1], z);
        total += u64::from(x1 - x0 + 1) * u64::from(y1 - y0 + 1);
        if total > MAX_TILES {
            return Err(AnalysisError::param(
                "zoom",
                format!(
                    "the box needs more than {MAX_TILES} tiles up to zoom {z}; \
                     use a smaller box or fewer zooms"
                ),
            )
            .into());
        }
        ranges.push((z, x0..=x1, y0..=y1));
    }
    let mut out = Vec::with_capacity(total as usize);
    for (z, xs, ys) in ranges {
        for x in xs {
            for y in ys.clone() {
                out.push(TileId::new(u32::from(z), x, y).map_err(tile_error)?);
            }
        }
    }
    Ok(out)
}

fn tile_error(e: TileError) -> crate::Error {
    StoreError::Aborted(e.to_string()).into()
}

/// A refusal of the server's tile grammar as the command line's error,
/// naming the flag.
fn param_error(e: ApiError) -> crate::Error {
    let name = e
        .extra
        .get("parameter")
        .and_then(Value::as_str)
        .unwrap_or("");
    let reason = e.detail.replacen(&format!("parameter `{name}`: "), "", 1);
    let flag = AnalysisParams::flag(name);
    StoreError::BadQuery(format!("{flag}: {reason}")).into()
}

/// What a package's tiles are drawn from.
enum Content {
    /// A store layer (or heat), through `Gate::tile` tile by tile.
    Store { source: Layer, filter: FilterArgs },
    /// The cells of the overlay's gated product, computed once.
    Overlay(Overlay),
    /// The joint map: its overlays computed once, the store layers tile by
    /// tile.
    Joint {
        blind: Option<Overlay>,
        hot: Option<Overlay>,
        surface: Surface,
        filter: FilterArgs,
    },
}

/// How tiles are drawn: for a role through the gate, else for the operator.
struct Drawer {
    gate: Gate,
    principal: Option<Principal>,
    layer: TileLayer,
    content: Content,
    /// Every tile parameter as the tile endpoints' query string, if any.
    query: Option<String>,
    now: DateTime<Utc>,
}

impl Drawer {
    /// Checks the parameters as the server's tile endpoints do, then, for
    /// an overlay or the joint map, runs its analyses once for the whole
    /// package (through the gate for a role).
    fn new(area: &Area, what: &str, store: &dyn FeatureSource) -> super::Result<Drawer> {
        let (gate, budget) = super::analysis::gate(area.config.as_deref())?;
        let principal = area.as_role.map(|role| Principal {
            name: format!("cli {what} --as-role {role}"),
            role,
            ingest: Vec::new(),
        });
        let pairs = area.pairs();
        let now = Utc::now();
        let layer = area.layer;
        let content = match layer.source() {
            Some(source) => {
                if let Some((name, _)) = area.analysis.pairs.first() {
                    return Err(AnalysisError::param(
                        "layer",
                        format!(
                            "{} is an analysis parameter: {layer} tiles take none \
                             (only hotspots, moran, presence, risk, blindspots and joint do)",
                            AnalysisParams::flag(name)
                        ),
                    )
                    .into());
                }
                if let Some(p) = &principal {
                    // Refused before anything is drawn when the role gets no tile.
                    gate.tile_kind(p, source)?;
                }
                // Checked as the gate checks a tile's parameters, before
                // anything is drawn (the gate checks them again for a role).
                let filter = area.filter.args();
                filter.event_filter()?.validate(source)?;
                if !matches!(source, Layer::Incidents | Layer::Sightings) && !filter.is_plain() {
                    return Err(AnalysisError::param(
                        "category",
                        format!("{source} tiles take only --from and --to as filters"),
                    )
                    .into());
                }
                Content::Store { source, filter }
            }
            None if layer == TileLayer::Joint => {
                let joint =
                    crate::server::tiles::overlays::joint_params(&pairs).map_err(param_error)?;
                // A part the role may not have, or with nothing to compute
                // on, is left out, as the server leaves it out.
                let part = |l: TileLayer| -> crate::Result<Option<Overlay>> {
                    let req = crate::server::tiles::overlays::overlay_request(l, &joint.window)
                        .map_err(param_error)?;
                    match req.run(&gate, principal.as_ref(), &budget, now, store) {
                        Ok(p) => Ok(Some(cut::overlay_of(l, &p).map_err(tile_error)?)),
                        Err(e) => {
                            let problem = crate::server::problem::from_crate(e);
                            if crate::server::tiles::overlays::joint_leaves_out(&problem) {
                                Ok(None)
                            } else {
                                Err(StoreError::Aborted(problem.detail).into())
                            }
                        }
                    }
                };
                let blind = part(TileLayer::Blindspots)?;
                let hot = match joint.surface {
                    Surface::Hotspots => part(TileLayer::Hotspots)?,
                    Surface::Heat => None,
                };
                Content::Joint {
                    blind,
                    hot,
                    surface: joint.surface,
                    filter: joint.filter,
                }
            }
            None => {
                let req = crate::server::tiles::overlays::overlay_request(layer, &pairs)
                    .map_err(param_error)?;
                let product = req.run(&gate, principal.as_ref(), &budget, now, store)?;
                Content::Overlay(cut::overlay_of(layer, &product).map_err(tile_error)?)
            }
        };
        Ok(Drawer {
            gate,
            principal,
            layer,
            content,
            query: params::query(&pairs),
            now,
        })
    }

    /// The content of a store layer's tile request as the role's (or the
    /// operator's) tile shows it, handed to `each` feature by feature;
    /// `None` when the role gets no such tile.
    fn store_content(
        &self,
        store: &dyn FeatureSource,
        req: &crate::access::TileRequest,
        each: &mut dyn FnMut(TileFeature),
    ) -> crate::Result<Option<TileStream>> {
        match &self.principal {
            Some(p) => match self.gate.tile_each(p, req, self.now, store, each) {
                Ok(c) => Ok(Some(c)),
                Err(crate::Error::Access(crate::access::AccessError::Forbidden { .. })) => Ok(None),
                Err(e) => Err(e),
            },
            None => operator(store, req, each).map(Some),
        }
    }

    /// The tile `id` in `format`, drawn from what the server would give.
    fn draw(
        &self,
        store: &dyn FeatureSource,
        id: TileId,
        format: TileFormat,
    ) -> crate::Result<Vec<u8>> {
        match &self.content {
            Content::Store { source, filter } => {
                // The same bounds as the server's; streamed, so that a
                // low-zoom tile keeps only its counts.
                let req = cut::tile_request(self.layer, *source, id, filter.clone());
                let content =
                    tiles::stream::gather_one(self.layer, id, &req, &mut |r, each| match &self
                        .principal
                    {
                        Some(p) => self.gate.tile_each(p, r, self.now, store, each),
                        None => operator(store, r, each),
                    })?;
                match format {
                    TileFormat::Mvt => Ok(tiles::mvt::encode_of(self.layer, id, &content)),
                    TileFormat::Png(scale) => {
                        let heat = HeatParams {
                            anchor: self.gate.policy().grid_anchor,
                            bandwidth_m: tiles::HEAT_BANDWIDTH_M,
                        };
                        tiles::png_of(self.layer, id, scale, &content, &heat).map_err(tile_error)
                    }
                }
            }
            Content::Overlay(o) => Ok(cut::overlay_tile(self.layer, o, id, format)
                .map_err(tile_error)?
                .0),
            Content::Joint {
                blind,
                hot,
                surface,
                filter,
            } => {
                let parts = cut::joint_parts(id, *surface, format, filter, &mut |req, each| {
                    self.store_content(store, req, each)
                })?;
                let (bytes, _) = cut::joint_tile(
                    id,
                    format,
                    blind.as_ref(),
                    hot.as_ref(),
                    &parts,
                    self.gate.policy().grid_anchor,
                )
                .map_err(tile_error)?;
                Ok(bytes)
            }
        }
    }

    /// The fields of store layer `source`'s vector layer for this role:
    /// `None` when it gets no tile of it.
    fn store_fields(&self, source: Layer) -> crate::Result<Option<Map<String, Value>>> {
        let mut fields = Map::new();
        fields.insert("count".into(), "Number".into());
        let individual = match &self.principal {
            Some(p) => match self.gate.tile_kind(p, source) {
                Ok(kind) => kind == TileKind::Features,
                Err(_) if self.layer == TileLayer::Joint => return Ok(None),
                Err(e) => return Err(e.into()),
            },
            None => true,
        };
        if individual {
            fields.insert("id".into(), "String".into());
            let specs: Vec<&crate::model::FieldSpec> = match &self.principal {
                Some(p) => self.gate.features(p, source)?.schema_fields().collect(),
                None => source.fields().iter().collect(),
            };
            for f in specs {
                let ty = match f.kind {
                    FieldKind::Count
                    | FieldKind::IntRange(..)
                    | FieldKind::PositiveReal
                    | FieldKind::Fraction => "Number",
                    _ => "String",
                };
                fields.insert(f.name.into(), ty.into());
            }
        }
        Ok(Some(fields))
    }

    /// The vector layers of this package (MBTiles `json`): the layer, or
    /// each part of the joint map the role gets, with its attributes.
    fn vector_layers(&self, zooms: &RangeInclusive<u8>) -> crate::Result<String> {
        let one = |layer: TileLayer, fields: Map<String, Value>| {
            json!({
                "id": layer.name(),
                "description": self.description(),
                "minzoom": zooms.start(),
                "maxzoom": zooms.end(),
                "fields": fields,
            })
        };
        let mut layers = Vec::new();
        match &self.content {
            Content::Store { source, .. } => {
                if let Some(f) = self.store_fields(*source)? {
                    layers.push(one(self.layer, f));
                }
            }
            Content::Overlay(_) => layers.push(one(self.layer, cut::overlay_fields(self.layer))),
            Content::Joint { blind, hot, .. } => {
                for (l, o) in [(TileLayer::Blindspots, blind), (TileLayer::Hotspots, hot)] {
                    if o.is_some() {
                        layers.push(one(l, cut::overlay_fields(l)));
                    }
                }
                for (l, source) in JOINT_STORE {
                    if let Some(f) = self.store_fields(source)? {
                        layers.push(one(l, f));
                    }
                }
            }
        }
        Ok(json!({ "vector_layers": layers }).to_string())
    }

    fn description(&self) -> String {
        let role = self
            .principal
            .as_ref()
            .map_or("the operator", |p| p.role.as_str());
        match &self.query {
            Some(q) => format!(
                "jointmap {} tiles as {role} receives them, filtered by {q}",
                self.layer
            ),
            None => format!("jointmap {} tiles as {role} receives them", self.layer),
        }
    }
}

/// What the operator's tile shows, handed to `each` feature by feature:
/// every feature in the bounds and the filter's window (events: that pass
/// the filter), with every property (the operator holds the store file;
/// nothing is withheld).
fn operator(
    store: &dyn FeatureSource,
    req: &crate::access::TileRequest,
    each: &mut dyn FnMut(TileFeature),
) -> crate::Result<TileStream> {
    let query = Query {
        bbox: Some(req.bbox),
        from: req.filter.from,
        to: req.filter.to,
    };
    let events = matches!(req.layer, Layer::Incidents | Layer::Sightings);
    let filter = req.filter.event_filter()?;
    let mut n = 0u64;
    store.query(req.layer, &query, &mut |f| {
        if events && !filter.keeps(req.layer, &f) {
            return Ok(());
        }
        let properties = match f.to_geojson() {
            Value::Object(mut o) => match o.remove("properties") {
                Some(Value::Object(p)) => p,
                _ => Map::new(),
            },
            _ => Map::new(),
        };
        n += 1;
        each(TileFeature {
            id: f.id,
            geometry: f.geometry,
            properties,
        });
        Ok(())
    })?;
    Ok(TileStream::Features(n))
}

/// Draws `ids` in parallel chunks and hands each tile to `sink` in order.
fn draw_all(
    cli: &Cli,
    store: &dyn FeatureSource,
    drawer: &Drawer,
    ids: &[TileId],
    format: TileFormat,
    sink: &mut dyn FnMut(TileId, Vec<u8>) -> crate::Result<()>,
) -> crate::Result<()> {
    let bar = progress_bar(cli.quiet, ids.len() as u64, "tiles");
    bar.set_message(format!("{} tiles", drawer.layer));
    for chunk in ids.chunks(CHUNK) {
        let drawn: Vec<crate::Result<Vec<u8>>> = chunk
            .par_iter()
            .map(|id| {
                let t = drawer.draw(store, *id, format);
                bar.inc(1);
                t
            })
            .collect();
        for (id, t) in chunk.iter().zip(drawn) {
            sink(*id, t?)?;
        }
    }
    bar.finish_and_clear();
    Ok(())
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> crate::Error + '_ {
    move |e| StoreError::Aborted(format!("{}: {e}", path.display())).into()
}

/// Refuses vector tiles of a layer drawn as PNG only.
fn check_format(layer: TileLayer, format: TileFormat) -> super::Result<()> {
    if format == TileFormat::Mvt && !layer.has_vector() {
        return Err(
            AnalysisError::param("format", format!("layer {layer} is drawn as PNG only")).into(),
        );
    }
    Ok(())
}

/// `jointmap render-tiles`: the tile tree `DIR/{layer}/{z}/{x}/{y}.{ext}`.
pub fn render(cli: &Cli, args: &RenderArgs) -> super::Result<()> {
    let a = &args.area;
    let ids = covering(a.bbox, a.zoom.clone())?;
    let (format, suffix) = match args.format {
        TreeFormat::Png => (TileFormat::Png(Scale::X1), ".png"),
        TreeFormat::Png2x => (TileFormat::Png(Scale::X2), "@2x.png"),
        TreeFormat::Mvt => (TileFormat::Mvt, ".mvt"),
    };
    check_format(a.layer, format)?;
    let store = existing_store(cli)?;
    let drawer = Drawer::new(a, "render-tiles", &*store)?;
    let root = args.out.join(a.layer.name());
    draw_all(cli, &*store, &drawer, &ids, format, &mut |id, bytes| {
        let dir = root.join(id.z.to_string()).join(id.x.to_string());
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(format!("{}{suffix}", id.y));
        // A reader of the tree never sees half a tile.
        let partial = dir.join(format!(".{}{suffix}.partial", id.y));
        std::fs::write(&partial, &bytes).map_err(io(&partial))?;
        std::fs::rename(&partial, &path).map_err(io(&path))
    })?;
    if !cli.quiet {
        eprintln!("{}: {} tiles in {}", a.layer, ids.len(), root.display());
    }
    Ok(())
}

/// `jointmap export-mbtiles`: an MBTiles 1.3 package.
pub fn mbtiles(cli: &Cli, args: &MbtilesArgs) -> super::Result<()> {
    let a = &args.area;
    let ids = covering(a.bbox, a.zoom.clone())?;
    let (draw, format) = match args.format {
        MbtilesFormat::Png => (TileFormat::Png(Scale::X1), PackageFormat::Png),
        MbtilesFormat::Mvt => (TileFormat::Mvt, PackageFormat::Mvt),
    };
    check_format(a.layer, draw)?;
    let store = existing_store(cli)?;
    let drawer = Drawer::new(a, "export-mbtiles", &*store)?;
    let json = match format {
        PackageFormat::Mvt => Some(drawer.vector_layers(&a.zoom)?),
        PackageFormat::Png => None,
    };
    let meta = Metadata {
        name: format!("jointmap {}", a.layer),
        description: drawer.description(),
        format,
        bounds: a.bbox,
        minzoom: *a.zoom.start(),
        maxzoom: *a.zoom.end(),
        attribution: "jointmap".into(),
        json,
        filter: drawer.query.clone(),
    };
    let mut w = MbtilesWriter::create(&args.output, &meta).map_err(tile_error)?;
    draw_all(cli, &*store, &drawer, &ids, draw, &mut |id, bytes| {
        w.insert(id, &bytes).map_err(tile_error)
    })?;
    w.finish().map_err(tile_error)?;
    if !cli.quiet {
        eprintln!(
            "{}: {} tiles in {}",
            a.layer,
            ids.len(),
            args.output.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zooms_parse_strictly() {
        assert_eq!(parse_zooms("5-12").unwrap(), 5..=12);
        assert_eq!(parse_zooms("7").unwrap(), 7..=7);
        assert_eq!(parse_zooms("0-18").unwrap(), 0..=18);
        for bad in [
            "12-5", "5-19", "19", "-1", "a-b", "", "5-", "-5", "5--6", "5-6-7",
        ] {
            assert!(parse_zooms(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn covering_counts_the_tiles_and_refuses_too_many() {
        // The whole world is one tile at z0, four at z1.
        let world = [-180.0, -85.0, 180.0, 85.0];
        assert_eq!(covering(world, 0..=1).unwrap().len(), 5);
        let car = [14.4, 2.2, 27.5, 11.0];
        let ids = covering(car, 5..=5).unwrap();
        for id in &ids {
            let b = id.bounds();
            assert!(b[0] < car[2] && b[2] > car[0] && b[1] < car[3] && b[3] > car[1]);
        }
        // Every tile touching the box, and no other: its neighbours do not.
        let (x0, y0) = tile_of(car[0], car[3], 5);
        let (x1, y1) = tile_of(car[2], car[1], 5);
        assert_eq!(ids.len() as u32, (x1 - x0 + 1) * (y1 - y0 + 1));
        assert!(covering(world, 0..=18).is_err());
        assert!(covering([20.0, 0.0, 10.0, 5.0], 5..=6).is_err());
    }
}
