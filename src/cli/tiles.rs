//! `jointmap render-tiles` and `jointmap export-mbtiles`: offline packages
//! of map tiles for field offices without connectivity.
//!
//! Every tile of a role (`--as-role`) is what the server answers that role:
//! the content comes from [`crate::access::Gate::tile`] with the bounds the
//! server asks for, drawn by the same renderers. Without `--as-role` the
//! operator (who holds the store file) gets every feature, as `jointmap
//! export` gives it. Tiles are drawn in parallel (rayon) and written in
//! chunks, behind a progress bar.

use super::{existing_store, progress_bar, Cli};
use crate::access::{Gate, Principal, Role, TileContent, TileFeature, TileKind, TileRequest};
use crate::analysis::AnalysisError;
use crate::model::{FieldKind, Layer};
use crate::render::tiles::mbtiles::{MbtilesWriter, Metadata, PackageFormat};
use crate::render::tiles::{
    self, HeatParams, Scale, TileError, TileId, TileLayer, BUFFER_PX, MAX_ZOOM,
};
use crate::request::events::FilterArgs;
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
    /// The tile layer: incidents, sightings, patrols, bases, sites or heat.
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
}

/// The tile endpoints' filter parameters (`/tiles/{layer}/{z}/{x}/{y}.png?from=...`),
/// by the same names and parsers; with --as-role they pass through the
/// gate as the server's do.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TileFilter {
    /// Only features from this time on (RFC 3339 or date), as the endpoints' `from`.
    #[arg(long, value_parser = crate::request::parse_time_arg)]
    pub from: Option<DateTime<Utc>>,
    /// Only features up to this time (RFC 3339, or a date: through the end of that day).
    #[arg(long, value_parser = crate::request::parse_to_arg)]
    pub to: Option<DateTime<Utc>>,
    /// Incidents and sightings only: these categories (sightings: activities), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub category: Vec<String>,
    /// Incidents and sightings only: these perpetrators (a category or an exact name), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub perpetrator: Vec<String>,
    /// Incidents and sightings only: at least this established (alert, reported, corroborated, verified).
    #[arg(long, value_name = "STATUS")]
    pub min_verification: Option<String>,
    /// Incidents and sightings only: at least this precisely located (exact, settlement, district, province).
    #[arg(long, value_name = "PRECISION")]
    pub min_precision: Option<String>,
}

impl TileFilter {
    /// The analyses' filter these parameters make (tiles count events and
    /// take their bounds as the box).
    fn args(&self) -> FilterArgs {
        FilterArgs {
            from: self.from,
            to: self.to,
            bbox: None,
            category: self.category.clone(),
            perpetrator: self.perpetrator.clone(),
            min_verification: self.min_verification.clone(),
            min_precision: self.min_precision.clone(),
            weight: "count".into(),
        }
    }

    /// The parameters as the tile endpoints' query string; `None` when
    /// there are none.
    pub fn query(&self) -> Option<String> {
        let time = |t: &Option<DateTime<Utc>>| t.as_ref().map(crate::model::time::format_time);
        let list = |v: &[String]| (!v.is_empty()).then(|| v.join(","));
        let pairs = [
            ("from", time(&self.from)),
            ("to", time(&self.to)),
            ("category", list(&self.category)),
            ("perpetrator", list(&self.perpetrator)),
            ("min-verification", self.min_verification.clone()),
            ("min-precision", self.min_precision.clone()),
        ];
        let mut q = form_urlencoded::Serializer::new(String::new());
        let mut any = false;
        for (k, v) in pairs {
            if let Some(v) = v {
                q.append_pair(k, &v);
                any = true;
            }
        }
        any.then(|| q.finish())
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
    let layer: TileLayer = s.parse()?;
    if layer.source().is_none() {
        return Err(format!("layer {layer} is not drawn by this build"));
    }
    Ok(layer)
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

/// How tiles are drawn: for a role through the gate, else for the operator.
struct Drawer {
    gate: Gate,
    principal: Option<Principal>,
    layer: TileLayer,
    source: Layer,
    filter: FilterArgs,
    /// The filter as the tile endpoints' query string, if any.
    query: Option<String>,
    now: DateTime<Utc>,
}

/// The format one tile is drawn in.
#[derive(Debug, Clone, Copy)]
enum Draw {
    Png(Scale),
    Mvt,
}

impl Drawer {
    fn new(area: &Area, what: &str) -> super::Result<Drawer> {
        let (gate, _) = super::analysis::gate(area.config.as_deref())?;
        let source = area.layer.source().ok_or_else(|| {
            AnalysisError::param("layer", format!("layer {} is not drawn", area.layer))
        })?;
        let principal = area.as_role.map(|role| Principal {
            name: format!("cli {what} --as-role {role}"),
            role,
            ingest: Vec::new(),
        });
        if let Some(p) = &principal {
            // Refused before anything is drawn when the role gets no tile.
            gate.tile_kind(p, source)?;
        }
        // Checked as the gate checks a tile's parameters, before anything
        // is drawn (the gate checks them again for a role).
        let filter = area.filter.args();
        filter.event_filter()?.validate(source)?;
        if !matches!(source, Layer::Incidents | Layer::Sightings) && !filter.is_plain() {
            return Err(AnalysisError::param(
                "category",
                format!("{source} tiles take only --from and --to as filters"),
            )
            .into());
        }
        Ok(Drawer {
            gate,
            principal,
            layer: area.layer,
            source,
            filter,
            query: area.filter.query(),
            now: Utc::now(),
        })
    }

    /// The tile `id` in `format`, drawn from what the server would give.
    fn draw(&self, store: &dyn FeatureSource, id: TileId, format: Draw) -> crate::Result<Vec<u8>> {
        // The same bounds as the server's: widened by the largest symbol and
        // by what a feature of the layer reaches.
        let bbox = crate::request::widen_bbox(id.buffered(BUFFER_PX, 256.0), self.layer.reach_m());
        let req = TileRequest {
            layer: self.source,
            filter: self.filter.clone(),
            bbox,
        };
        let content = match &self.principal {
            Some(p) => self.gate.tile(p, &req, self.now, store)?,
            None => operator(store, &req)?,
        };
        match format {
            Draw::Mvt => Ok(tiles::mvt::encode(self.layer, id, &content)),
            Draw::Png(scale) => {
                let heat = HeatParams {
                    anchor: self.gate.policy().grid_anchor,
                    bandwidth_m: tiles::HEAT_BANDWIDTH_M,
                };
                tiles::png(self.layer, id, scale, &content, &heat).map_err(tile_error)
            }
        }
    }

    /// The attributes vector tiles may carry for this role (MBTiles `json`).
    fn vector_layers(&self, zooms: &RangeInclusive<u8>) -> crate::Result<String> {
        let mut fields = Map::new();
        fields.insert("count".into(), "Number".into());
        let individual = match &self.principal {
            Some(p) => self.gate.tile_kind(p, self.source)? == TileKind::Features,
            None => true,
        };
        if individual {
            fields.insert("id".into(), "String".into());
            let specs: Vec<&crate::model::FieldSpec> = match &self.principal {
                Some(p) => self
                    .gate
                    .features(p, self.source)?
                    .schema_fields()
                    .collect(),
                None => self.source.fields().iter().collect(),
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
        Ok(json!({"vector_layers": [{
            "id": self.layer.name(),
            "description": self.description(),
            "minzoom": zooms.start(),
            "maxzoom": zooms.end(),
            "fields": fields,
        }]})
        .to_string())
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

/// What the operator's tile shows: every feature in the bounds and the
/// filter's window (events: that pass the filter), with every property
/// (the operator holds the store file; nothing is withheld).
fn operator(store: &dyn FeatureSource, req: &TileRequest) -> crate::Result<TileContent> {
    let mut out = Vec::new();
    let query = Query {
        bbox: Some(req.bbox),
        from: req.filter.from,
        to: req.filter.to,
    };
    let events = matches!(req.layer, Layer::Incidents | Layer::Sightings);
    let filter = req.filter.event_filter()?;
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
        out.push(TileFeature {
            id: f.id,
            geometry: f.geometry,
            properties,
        });
        Ok(())
    })?;
    Ok(TileContent::Features(out))
}

/// Draws `ids` in parallel chunks and hands each tile to `sink` in order.
fn draw_all(
    cli: &Cli,
    drawer: &Drawer,
    ids: &[TileId],
    format: Draw,
    sink: &mut dyn FnMut(TileId, Vec<u8>) -> crate::Result<()>,
) -> crate::Result<()> {
    let store = existing_store(cli).map_err(|e| match e {
        super::CliError::Jointmap(e) => e,
        other => StoreError::Aborted(other.to_string()).into(),
    })?;
    let bar = progress_bar(cli.quiet, ids.len() as u64, "tiles");
    bar.set_message(format!("{} tiles", drawer.layer));
    for chunk in ids.chunks(CHUNK) {
        let drawn: Vec<crate::Result<Vec<u8>>> = chunk
            .par_iter()
            .map(|id| {
                let t = drawer.draw(&*store, *id, format);
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

/// `jointmap render-tiles`: the tile tree `DIR/{layer}/{z}/{x}/{y}.{ext}`.
pub fn render(cli: &Cli, args: &RenderArgs) -> super::Result<()> {
    let a = &args.area;
    let ids = covering(a.bbox, a.zoom.clone())?;
    let drawer = Drawer::new(a, "render-tiles")?;
    let (format, suffix) = match args.format {
        TreeFormat::Png => (Draw::Png(Scale::X1), ".png"),
        TreeFormat::Png2x => (Draw::Png(Scale::X2), "@2x.png"),
        TreeFormat::Mvt => (Draw::Mvt, ".mvt"),
    };
    if matches!(format, Draw::Mvt) && !a.layer.has_vector() {
        return Err(AnalysisError::param(
            "format",
            format!("layer {} is drawn as PNG only", a.layer),
        )
        .into());
    }
    let root = args.out.join(a.layer.name());
    draw_all(cli, &drawer, &ids, format, &mut |id, bytes| {
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
    let drawer = Drawer::new(a, "export-mbtiles")?;
    let (draw, format) = match args.format {
        MbtilesFormat::Png => (Draw::Png(Scale::X1), PackageFormat::Png),
        MbtilesFormat::Mvt => (Draw::Mvt, PackageFormat::Mvt),
    };
    if format == PackageFormat::Mvt && !a.layer.has_vector() {
        return Err(AnalysisError::param(
            "format",
            format!("layer {} is drawn as PNG only", a.layer),
        )
        .into());
    }
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
    draw_all(cli, &drawer, &ids, draw, &mut |id, bytes| {
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
