//! GeoIP on the fast path: what logferry.enrich.geoip's fill adds to a `source` or
//! `destination` object (`geo` from the City database, `as` from the ASN database), read with
//! the maxminddb crate from the same .mmdb files, as JSON members to append to the object.
//!
//! Invariant: a line taken with GeoIP on gives exactly the Python document after the fills
//! (cloud facts, then GeoIP), byte for byte as orjson writes it; anything this module is not
//! sure of makes the writer decline the line (Python reads it). An address that is not a plain
//! dotted-quad IPv4 text (IPv6, whose `ipaddress.is_global` rules are Python's; leading zeros
//! and other shapes `inet_pton` and this parser might read differently) is answered by
//! Python's own lookup (`GeoIP.members`, given to the writer), or, without it, declined.
//! Declined: a database that cannot be opened or a record that cannot be decoded (a panic in the crate on
//! a corrupt file included: caught, never passed on), values whose Python reading is a type
//! this module does not write (a truthy non-string iso_code or continent code, a boolean
//! coordinate or AS number, integers orjson refuses), and floats whose shortest form orjson
//! writes in scientific notation (nonzero |x| < 1e-4, |x| >= 1e16, not finite).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};

use maxminddb::Reader;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::json;

/// The longest text an address can be (IPv6 with an IPv4 tail).
const MAX_ADDRESS_TEXT: usize = 45;
/// Addresses remembered per writer, and per process for each pair of databases
/// (logferry.enrich.geoip.CACHE_SIZE): then all forgotten.
const CACHE_SIZE: usize = 65536;
/// Database files kept open per process: the S3 copies get a new path per ETag, so a
/// long-lived process could otherwise hold every version it ever read.
const OPEN_FILES: usize = 8;
/// Deepest nesting of a record decoded: a corrupt file's pointer loop would otherwise recurse
/// until the stack overflows (an abort, not a panic). MaxMind's records nest 3 levels.
const MAX_DEPTH: u32 = 16;

type Db = Arc<Reader<Vec<u8>>>;
/// The members to append for an address (`,"geo":{...},"as":{...}`, maybe empty), or None
/// for an address whose lines are declined.
type Found = Option<Arc<[u8]>>;
type Cache = HashMap<String, Found>;

/// The City and ASN databases of a writer, and what each address gave.
pub struct Geo {
    /// None: a database would not open here (the Python side opened it): decline everything.
    databases: Option<(Option<Db>, Option<Db>)>,
    /// The addresses this writer (an object) has met, without a lock.
    cache: Cache,
    /// The addresses every writer of the process has met with the same databases, as
    /// Python's cache is the process's: an object's lookups serve the next objects' (a
    /// container's objects mostly come from the same clients).
    shared: Arc<Mutex<Cache>>,
    /// Python's answer for an address this module does not read (logferry.enrich.geoip.
    /// GeoIP.members: the members, as bytes); None: such lines are declined.
    python: Option<Py<PyAny>>,
}

impl Geo {
    /// `(City path, ASN path)`, either absent, as logferry.enrich.geoip.GeoIP holds them, and
    /// its lookup for the addresses left to Python.
    pub fn new(city: Option<&str>, asn: Option<&str>, python: Option<Py<PyAny>>) -> Self {
        let open = |path: Option<&str>| -> Result<Option<Db>, ()> { path.map(opened).transpose() };
        let databases = match (open(city), open(asn)) {
            (Ok(city), Ok(asn)) => Some((city, asn)),
            _ => None,
        };
        Geo {
            databases,
            cache: HashMap::new(),
            shared: shared(city, asn),
            python,
        }
    }

    /// The members the fill appends to an endpoint of address `ip` (empty: none), or None to
    /// decline the line.
    pub fn members(&mut self, ip: &str) -> Option<&[u8]> {
        // No address is longer (logferry.enrich.geoip.MAX_ADDRESS_TEXT): no geo, and never a
        // cache key, so a hostile object's long values cannot fill the cache.
        if ip.len() > MAX_ADDRESS_TEXT {
            return Some(&[]);
        }
        if !self.cache.contains_key(ip) {
            let found = self.look_up(ip);
            remember(&mut self.cache, ip, found);
        }
        self.cache.get(ip)?.as_deref()
    }

    /// An address new to this writer: from the process's cache, else from the databases.
    fn look_up(&self, ip: &str) -> Found {
        let (city, asn) = self.databases.as_ref()?;
        if let Some(found) = locked(&self.shared).get(ip) {
            return found.clone();
        }
        let (found, shared): (Found, bool) = match ipv4(ip) {
            Some(address) => {
                let found = find(city.as_deref(), asn.as_deref(), address).map(Arc::from);
                (found, true)
            }
            // Python's failure to answer (or a writer not given its lookup) is this writer's.
            None => {
                let found = self.ask_python(ip);
                let answered = found.is_some();
                (found, answered)
            }
        };
        if shared {
            remember(&mut locked(&self.shared), ip, found.clone());
        }
        found
    }

    /// Python's members for an address (None, to decline: no lookup given, or it failed).
    fn ask_python(&self, ip: &str) -> Found {
        let lookup = self.python.as_ref()?;
        Python::with_gil(|py| {
            let answer = lookup.call1(py, (ip,)).ok()?;
            let members = answer.downcast_bound::<PyBytes>(py).ok()?;
            Some(Arc::from(members.as_bytes()))
        })
    }
}

fn remember(cache: &mut Cache, ip: &str, found: Found) {
    if cache.len() >= CACHE_SIZE {
        cache.clear();
    }
    cache.insert(ip.to_owned(), found);
}

/// A lock's map; a poisoned lock only means another thread panicked holding it (the map is
/// still whole).
fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The process's cache of addresses for a pair of database paths (as many pairs as files
/// are kept open: an S3 copy gets a new path per ETag, and its answers a new cache).
fn shared(city: Option<&str>, asn: Option<&str>) -> Arc<Mutex<Cache>> {
    type Pairs = HashMap<(Option<String>, Option<String>), Arc<Mutex<Cache>>>;
    static SHARED: OnceLock<Mutex<Pairs>> = OnceLock::new();
    let mut pairs = locked(SHARED.get_or_init(Default::default));
    let key = (city.map(str::to_owned), asn.map(str::to_owned));
    if !pairs.contains_key(&key) && pairs.len() >= OPEN_FILES {
        pairs.clear(); // writers still using a cache keep it through their Arc
    }
    pairs.entry(key).or_default().clone()
}

/// A database file, opened once per process (every object's writer shares it).
fn opened(path: &str) -> Result<Db, ()> {
    static OPEN: OnceLock<Mutex<HashMap<String, Db>>> = OnceLock::new();
    let open = OPEN.get_or_init(Default::default);
    let mut open = locked(open);
    if let Some(db) = open.get(path) {
        return Ok(db.clone());
    }
    let read = catch_unwind(|| Reader::open_readfile(path));
    let db = Arc::new(read.map_err(drop)?.map_err(drop)?);
    if open.len() >= OPEN_FILES {
        open.clear(); // writers still using a file keep it through their Arc
    }
    open.insert(path.to_owned(), db.clone());
    Ok(db)
}

/// What logferry.enrich.geoip.GeoIP._find gives for `ip`, as members; None to decline.
fn find(
    city: Option<&Reader<Vec<u8>>>,
    asn: Option<&Reader<Vec<u8>>>,
    address: Ipv4Addr,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    if !is_public(address) {
        return Some(out);
    }
    if let Some(city) = city {
        if let Some(record) = lookup(city, address)? {
            let mut geo = Members::new();
            city_facts(&record, &mut geo)?;
            geo.close_into(&mut out, "geo");
        }
    }
    if let Some(asn) = asn {
        if let Some(record) = lookup(asn, address)? {
            let mut found = Members::new();
            asn_facts(&record, &mut found)?;
            found.close_into(&mut out, "as");
        }
    }
    Some(out)
}

/// The record of an address: Some(None) when the database has none, None to decline (a
/// decoding error, or a panic of the crate on a corrupt file).
fn lookup(db: &Reader<Vec<u8>>, address: Ipv4Addr) -> Option<Option<Value>> {
    let found = catch_unwind(AssertUnwindSafe(|| {
        db.lookup::<Record>(IpAddr::V4(address))
    }));
    Some(found.ok()?.ok()?.map(|record| record.0))
}

/// A dotted quad as both `inet_pton(AF_INET)` (glibc) and ipaddress read it: four decimal
/// octets of 1 to 3 ASCII digits, no leading zero, each up to 255. Anything else: None.
fn ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        let plain = (1..=3).contains(&part.len())
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part == "0" || !part.starts_with('0'));
        if !plain {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// logferry.enrich.geoip._NOT_PUBLIC_V4: the ranges that get no geo, as (network, prefix).
const NOT_PUBLIC: [([u8; 4], u32); 14] = [
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([127, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 0, 0, 0], 24),
    ([192, 0, 2, 0], 24),
    ([192, 168, 0, 0], 16),
    ([198, 18, 0, 0], 15),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
    ([224, 0, 0, 0], 4),
    ([240, 0, 0, 0], 4),
];

fn is_public(address: Ipv4Addr) -> bool {
    let number = u32::from(address);
    !NOT_PUBLIC.iter().any(|&(network, prefix)| {
        let mask = u32::MAX << (32 - prefix);
        number & mask == u32::from_be_bytes(network)
    })
}

/// A decoded database value, as far as the facts need to tell values apart.
enum Value {
    /// The members the facts read (`Keep`), in the record's order (`get` takes the last of a
    /// repeated key, as a dict would), and whether the map had any member at all.
    Map(Vec<(String, Value)>, bool),
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
    /// Arrays and bytes: never written, only their truthiness matters.
    Other {
        truthy: bool,
    },
}

impl Value {
    /// Python's bool() of the value maxminddb_rust gives.
    fn truthy(&self) -> bool {
        match self {
            Value::Map(_, any) => *any,
            Value::Str(text) => !text.is_empty(),
            Value::Int(number) => *number != 0,
            Value::Float(number) => *number != 0.0,
            Value::Bool(value) => *value,
            Value::Other { truthy } => *truthy,
        }
    }

    /// `dict.get(key)` of a map; None for a missing key or a value that is not a map.
    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(members, _) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn is_map(&self) -> bool {
        matches!(self, Value::Map(..))
    }
}

/// geoip._english: the `en` name of a `names` map, when it is a string.
fn english(names: Option<&Value>) -> Option<&str> {
    match names?.get("en")? {
        Value::Str(name) => Some(name),
        _ => None,
    }
}

/// A truthy value the fill copies as it is (`iso_code`, continent `code`): written when a
/// string; Ok(None) when falsy (skipped); Err when truthy of another type (declined).
fn copied(value: Option<&Value>) -> Result<Option<&str>, ()> {
    match value {
        Some(value) if value.truthy() => match value {
            Value::Str(text) => Ok(Some(text)),
            _ => Err(()),
        },
        _ => Ok(None),
    }
}

/// geoip.city_facts of a record into `geo`; None to decline.
fn city_facts(record: &Value, geo: &mut Members) -> Option<()> {
    if !record.is_map() {
        return Some(()); // city_facts: None
    }
    // `record.get("country") or record.get("registered_country")`
    let country = match record.get("country") {
        Some(country) if country.truthy() => Some(country),
        _ => record.get("registered_country"),
    };
    if let Some(country) = country.filter(|c| c.is_map()) {
        if let Some(iso) = copied(country.get("iso_code")).ok()? {
            geo.string("country_iso_code", iso);
        }
        if let Some(name) = english(country.get("names")).filter(|n| !n.is_empty()) {
            geo.string("country_name", name);
        }
    }
    if let Some(city) = record.get("city").filter(|c| c.is_map()) {
        if let Some(name) = english(city.get("names")).filter(|n| !n.is_empty()) {
            geo.string("city_name", name);
        }
    }
    if let Some(continent) = record.get("continent").filter(|c| c.is_map()) {
        if let Some(code) = copied(continent.get("code")).ok()? {
            geo.string("continent_code", code);
        }
    }
    if let Some(location) = record.get("location").filter(|l| l.is_map()) {
        let (lat, lon) = (location.get("latitude"), location.get("longitude"));
        // isinstance(x, int | float): booleans are ints to Python (and `true` to orjson).
        let numeric = |v: Option<&Value>| match v {
            Some(Value::Int(_) | Value::Float(_)) => Some(true),
            Some(Value::Bool(_)) => None,
            _ => Some(false),
        };
        if numeric(lat)? && numeric(lon)? {
            let mut at = Vec::with_capacity(48);
            at.extend_from_slice(b"{\"lat\":");
            number(&mut at, lat?)?;
            at.extend_from_slice(b",\"lon\":");
            number(&mut at, lon?)?;
            at.push(b'}');
            geo.raw("location", &at);
        }
    }
    Some(())
}

/// geoip.asn_facts of a record into `found`; None to decline.
fn asn_facts(record: &Value, found: &mut Members) -> Option<()> {
    match record.get("autonomous_system_number") {
        Some(Value::Bool(_)) => return None, // an int to Python: `true` in the document
        Some(value @ Value::Int(_)) => {
            let mut digits = Vec::new();
            number(&mut digits, value)?;
            found.raw("number", &digits);
        }
        _ => {}
    }
    if let Some(Value::Str(name)) = record.get("autonomous_system_organization") {
        if !name.is_empty() {
            let mut organization = b"{\"name\":".to_vec();
            json::string(&mut organization, name);
            organization.push(b'}');
            found.raw("organization", &organization);
        }
    }
    Some(())
}

/// A number as orjson writes it; None for what it writes otherwise than here (or refuses).
fn number(out: &mut Vec<u8>, value: &Value) -> Option<()> {
    match *value {
        // orjson serialises integers from i64::MIN to u64::MAX, and raises beyond.
        Value::Int(n) if n >= i128::from(i64::MIN) && n <= i128::from(u64::MAX) => {
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        }
        Value::Float(x) => {
            // Rust's Display is the shortest text that reads back as `x`, never in scientific
            // notation; orjson's is the same digits, plain in this range, and `.0` on a whole.
            let plain = x == 0.0 || (x.is_finite() && (1e-4..1e16).contains(&x.abs()));
            if !plain {
                return None;
            }
            let start = out.len();
            out.extend_from_slice(x.to_string().as_bytes());
            if !out.get(start..)?.contains(&b'.') {
                out.extend_from_slice(b".0");
            }
        }
        _ => return None,
    }
    Some(())
}

/// An object's members being written: `"key":value` pairs, commas between.
struct Members(Vec<u8>);

impl Members {
    fn new() -> Self {
        Members(Vec::new())
    }

    fn key(&mut self, key: &str) {
        if !self.0.is_empty() {
            self.0.push(b',');
        }
        self.0.push(b'"');
        self.0.extend_from_slice(key.as_bytes()); // keys are ours: plain ASCII names
        self.0.extend_from_slice(b"\":");
    }

    /// A string from the database: json::string escapes it as orjson does (`"`, `\`, the
    /// control characters, lowercase `\u00xx`; everything else, UTF-8 included, as it is).
    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        json::string(&mut self.0, value);
    }

    fn raw(&mut self, key: &str, value: &[u8]) {
        self.key(key);
        self.0.extend_from_slice(value);
    }

    /// `,"name":{members}` onto `out`, when there are members (the fill adds no empty object).
    fn close_into(self, out: &mut Vec<u8>, name: &str) {
        if self.0.is_empty() {
            return;
        }
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":{");
        out.extend_from_slice(&self.0);
        out.push(b'}');
    }
}

/// A whole record, decoded with a bounded depth.
struct Record(Value);

impl<'de> serde::Deserialize<'de> for Record {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Depth(0, RECORD).deserialize(deserializer).map(Record)
    }
}

/// The members of a map that `city_facts` and `asn_facts` read, each with what to keep of its
/// value (All: the whole value). The others are decoded past, never built: a GeoLite2 City
/// record's names in seven more languages, geoname ids, subdivisions, postal code, time zone.
/// Measured with records of that size (the enrichment table, GeoIP + user agents on a first
/// object against plain): ALB 0.53x -> 0.57x, VPC flow 0.53x -> 0.56x, NLB 0.47x -> 0.51x.
#[derive(Clone, Copy)]
enum Keep {
    All,
    Members(&'static [(&'static str, Keep)]),
}

const NAMES: Keep = Keep::Members(&[("en", Keep::All)]);
const COUNTRY: Keep = Keep::Members(&[("iso_code", Keep::All), ("names", NAMES)]);
const RECORD: Keep = Keep::Members(&[
    ("country", COUNTRY),
    ("registered_country", COUNTRY),
    ("city", Keep::Members(&[("names", NAMES)])),
    ("continent", Keep::Members(&[("code", Keep::All)])),
    (
        "location",
        Keep::Members(&[("latitude", Keep::All), ("longitude", Keep::All)]),
    ),
    ("autonomous_system_number", Keep::All),
    ("autonomous_system_organization", Keep::All),
]);

/// Decodes one value `.0` levels down, keeping `.1` of it.
#[derive(Clone, Copy)]
struct Depth(u32, Keep);

impl<'de> DeserializeSeed<'de> for Depth {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.0 > MAX_DEPTH {
            return Err(de::Error::custom("nested too deep"));
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Depth {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a MaxMind DB value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        // Beyond i128 is beyond what orjson writes too: declined either way.
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("uint128 out of range"))
    }

    fn visit_f32<E>(self, v: f32) -> Result<Value, E> {
        Ok(Value::Float(v.into())) // as maxminddb_rust gives it: the f32 widened
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Other {
            truthy: !v.is_empty(),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut truthy = false;
        while seq.next_element_seed(Skip(self.0 + 1))?.is_some() {
            truthy = true;
        }
        Ok(Value::Other { truthy })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Vec::new();
        let mut any = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            any = true;
            let keep = match self.1 {
                Keep::All => Some(Keep::All),
                Keep::Members(wanted) => wanted.iter().find(|(name, _)| *name == key).map(|m| m.1),
            };
            match keep {
                Some(keep) => {
                    let value = map.next_value_seed(Depth(self.0 + 1, keep))?;
                    members.push((key.into_owned(), value));
                }
                None => map.next_value_seed(Skip(self.0 + 1))?,
            }
        }
        Ok(Value::Map(members, any))
    }
}

/// Decodes past one value `.0` levels down (errors and depth as `Depth`), building nothing.
#[derive(Clone, Copy)]
struct Skip(u32);

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.0 > MAX_DEPTH {
            return Err(de::Error::custom("nested too deep"));
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a MaxMind DB value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }

    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_bytes<E>(self, _: &[u8]) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip(self.0 + 1))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Skip(self.0 + 1))?.is_some() {
            map.next_value_seed(Skip(self.0 + 1))?;
        }
        Ok(())
    }
}
