//! A database record decoded into what logferry.enrich.geoip's facts read of it, and those
//! facts written as the JSON members the fill appends: `,"geo":{...}` from a City record,
//! `,"as":{...}` from an ASN record. Values keep the types Python's reader gives them, so
//! that each fact is written, skipped or declined exactly as Python's fill would.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::json;

/// Deepest nesting of a record decoded: a corrupt file's pointer loop would otherwise recurse
/// until the stack overflows (an abort, not a panic). MaxMind's records nest 3 levels.
const MAX_DEPTH: u32 = 16;

/// `,"geo":{...}` for a City record (empty: no facts); None to decline.
pub(super) fn city(record: &Record) -> Option<Vec<u8>> {
    let mut geo = Members::new();
    city_facts(&record.0, &mut geo)?;
    Some(geo.closed("geo"))
}

/// `,"as":{...}` for an ASN record (empty: no facts); None to decline.
pub(super) fn asn(record: &Record) -> Option<Vec<u8>> {
    let mut found = Members::new();
    asn_facts(&record.0, &mut found)?;
    Some(found.closed("as"))
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

    /// `,"name":{members}`, or nothing when there are none (the fill adds no empty object).
    fn closed(self, name: &str) -> Vec<u8> {
        if self.0.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(self.0.len() + name.len() + 6);
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":{");
        out.extend_from_slice(&self.0);
        out.push(b'}');
        out
    }
}

/// A whole record, decoded with a bounded depth.
pub(super) struct Record(Value);

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
