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
//! Declined: a database that cannot be opened or a record that cannot be decoded (a panic in
//! the crate on a corrupt file included: caught, never passed on), values whose Python reading
//! is a type this module does not write (a truthy non-string iso_code or continent code, a
//! boolean coordinate or AS number, integers orjson refuses), and floats whose shortest form
//! orjson writes in scientific notation (nonzero |x| < 1e-4, |x| >= 1e16, not finite).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};

use maxminddb::Reader;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

mod record;

/// The longest text an address can be (IPv6 with an IPv4 tail).
const MAX_ADDRESS_TEXT: usize = 45;
/// Addresses remembered per writer, and per process for each pair of databases
/// (logferry.enrich.geoip.CACHE_SIZE), and records per database: then all forgotten.
const CACHE_SIZE: usize = 65536;
/// Database files kept open per process: the S3 copies get a new path per ETag, so a
/// long-lived process could otherwise hold every version it ever read.
const OPEN_FILES: usize = 8;

type Db = Arc<Reader<Vec<u8>>>;
/// The members to append for an address (`,"geo":{...},"as":{...}`, maybe empty), or None
/// for an address whose lines are declined.
type Found = Option<Arc<[u8]>>;
/// Maps keyed by what a hostile object chooses (addresses): foldhash, seeded at random per
/// process, as hashbrown's default is (SipHash, std's, was ~5% of a first object's lookups).
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// What addresses gave: dotted quads by their number (no text kept, hashed as a u32), the
/// addresses Python reads by their text (at most MAX_ADDRESS_TEXT bytes each).
#[derive(Default)]
struct Addresses {
    v4: Map<u32, Found>,
    text: Map<String, Found>,
}

impl Addresses {
    fn remember_v4(&mut self, address: u32, found: Found) {
        self.bound();
        self.v4.insert(address, found);
    }

    fn remember_text(&mut self, ip: &str, found: Found) {
        self.bound();
        self.text.insert(ip.to_owned(), found);
    }

    fn bound(&mut self) {
        if self.v4.len() + self.text.len() >= CACHE_SIZE {
            self.v4.clear();
            self.text.clear();
        }
    }
}

/// What a process knows for a pair of databases: the answers per address, and the members
/// each database's records gave, by the record's offset in the file (maxminddb's cache key:
/// addresses of a network, and networks of one place or system, share a record; a new
/// address of a known record costs its tree walk only). ALB's writer over the benchmark's 20
/// MB object, every address new, five places in the City database: 0.092 s -> 0.057 s (0.043
/// s without GeoIP).
#[derive(Default)]
struct Known {
    addresses: Addresses,
    city: Map<usize, Option<Vec<u8>>>,
    asn: Map<usize, Option<Vec<u8>>>,
}

/// The City and ASN databases of a writer, and what each address gave.
pub struct Geo {
    /// None: a database would not open here (the Python side opened it): decline everything.
    databases: Option<(Option<Db>, Option<Db>)>,
    /// The addresses this writer (an object) has met, without a lock.
    cache: Addresses,
    /// What every writer of the process has met with the same databases, as Python's cache
    /// is the process's: an object's lookups serve the next objects' (a container's objects
    /// mostly come from the same clients).
    shared: Arc<Mutex<Known>>,
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
            cache: Addresses::default(),
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
        match ipv4(ip) {
            Some(address) => {
                let number = u32::from(address);
                if !self.cache.v4.contains_key(&number) {
                    let found = self.look_up_v4(address);
                    self.cache.remember_v4(number, found);
                }
                self.cache.v4.get(&number)?.as_deref()
            }
            None => {
                if !self.cache.text.contains_key(ip) {
                    let found = self.look_up_text(ip);
                    self.cache.remember_text(ip, found);
                }
                self.cache.text.get(ip)?.as_deref()
            }
        }
    }

    /// A dotted quad new to this writer: from the process's cache, else from the databases.
    fn look_up_v4(&self, address: Ipv4Addr) -> Found {
        let (city, asn) = self.databases.as_ref()?;
        let mut known = locked(&self.shared);
        let number = u32::from(address);
        if let Some(found) = known.addresses.v4.get(&number) {
            return found.clone();
        }
        let found = find(city.as_deref(), asn.as_deref(), address, &mut known).map(Arc::from);
        known.addresses.remember_v4(number, found.clone());
        found
    }

    /// Another address new to this writer: from the process's cache, else Python's answer
    /// (asked without the lock: Python may switch threads, and another writer wait on it).
    fn look_up_text(&self, ip: &str) -> Found {
        self.databases.as_ref()?;
        if let Some(found) = locked(&self.shared).addresses.text.get(ip) {
            return found.clone();
        }
        // Python's failure to answer (or a writer not given its lookup) is this writer's.
        let found = self.ask_python(ip);
        if found.is_some() {
            locked(&self.shared)
                .addresses
                .remember_text(ip, found.clone());
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

/// A lock's value; a poisoned lock only means another thread panicked holding it (the maps
/// are still whole).
fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the process knows for a pair of database paths (as many pairs as files are kept
/// open: an S3 copy gets a new path per ETag, and its answers a new cache).
fn shared(city: Option<&str>, asn: Option<&str>) -> Arc<Mutex<Known>> {
    type Pairs = HashMap<(Option<String>, Option<String>), Arc<Mutex<Known>>>;
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

/// What logferry.enrich.geoip.GeoIP._find gives for `address`, as members; None to decline.
fn find(
    city: Option<&Reader<Vec<u8>>>,
    asn: Option<&Reader<Vec<u8>>>,
    address: Ipv4Addr,
    known: &mut Known,
) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    if !is_public(address) {
        return Some(out);
    }
    if let Some(city) = city {
        append_members(&mut out, city, address, &mut known.city, record::city)?;
    }
    if let Some(asn) = asn {
        append_members(&mut out, asn, address, &mut known.asn, record::asn)?;
    }
    Some(out)
}

/// Appends to `out` the members `facts` makes of the record of `address` in `db` (nothing: no
/// record), kept by the record's offset; None to decline (a decoding error, or a panic of the
/// crate on a corrupt file).
fn append_members(
    out: &mut Vec<u8>,
    db: &Reader<Vec<u8>>,
    address: Ipv4Addr,
    records: &mut Map<usize, Option<Vec<u8>>>,
    facts: fn(&record::Record) -> Option<Vec<u8>>,
) -> Option<()> {
    let found = catch_unwind(AssertUnwindSafe(|| db.lookup(IpAddr::V4(address))));
    let found = found.ok()?.ok()?;
    let Some(offset) = found.offset() else {
        return Some(());
    };
    if !records.contains_key(&offset) {
        let record = catch_unwind(AssertUnwindSafe(|| found.decode::<record::Record>()));
        let members = match record {
            Ok(Ok(Some(record))) => facts(&record),
            Ok(Ok(None)) => Some(Vec::new()),
            _ => None,
        };
        if records.len() >= CACHE_SIZE {
            records.clear();
        }
        records.insert(offset, members);
    }
    out.extend_from_slice(records.get(&offset)?.as_deref()?);
    Some(())
}

/// A dotted quad as both `inet_pton(AF_INET)` (glibc) and ipaddress read it: four decimal
/// octets of 1 to 3 ASCII digits, no leading zero, each up to 255. Anything else: None.
fn ipv4(text: &str) -> Option<Ipv4Addr> {
    // Byte by byte: str::split's searcher was ~2.5% of a first object's lookups.
    let mut octets = [0u8; 4];
    let mut bytes = text.as_bytes().iter();
    for (i, octet) in octets.iter_mut().enumerate() {
        let (mut value, mut digits) = (0u32, 0);
        loop {
            match bytes.next() {
                Some(&b) if b.is_ascii_digit() && digits < 3 => {
                    if digits == 1 && value == 0 {
                        return None; // a leading zero
                    }
                    value = value * 10 + u32::from(b - b'0');
                    digits += 1;
                }
                Some(b'.') if i < 3 && digits > 0 => break,
                None if i == 3 && digits > 0 => break,
                _ => return None,
            }
        }
        *octet = u8::try_from(value).ok()?;
    }
    Some(Ipv4Addr::from(octets))
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
