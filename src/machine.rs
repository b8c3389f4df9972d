//! The machine fingerprint written as `machine.json` beside every results set (and every
//! benchmark run), so that numbers from different hardware are never mixed up.
//!
//! Hardware facts come from std (`available_parallelism`, `is_x86_feature_detected!`),
//! sysinfo (CPU brand, physical cores, memory, OS) and, on Linux, sysfs (caches) and
//! `/proc/cpuinfo` (the few SIMD flags std cannot detect on stable Rust). Missing facts are
//! left empty rather than failing: a fingerprint is a description, not an input.
//! The compiler version and git commit are recorded at build time by `build.rs`.

use crate::record::MachineInfo;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

// The file's reader and writer live with the results format; re-exported for the benches.
pub use crate::record::{read_machine_json, write_machine_json, MACHINE_JSON};

/// Takes the fingerprint of this machine. `threads` and `gemm_backend` describe how the
/// caller will run (they are recorded but do not enter `machine_id`).
pub fn fingerprint(threads: usize, gemm_backend: &str) -> MachineInfo {
    use sysinfo::{CpuRefreshKind, MemoryRefreshKind, System};

    let mut system = System::new();
    system.refresh_cpu_list(CpuRefreshKind::nothing());
    system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());

    let cpu_model = system
        .cpus()
        .first()
        .map(|cpu| cpu.brand().trim().to_string())
        .filter(|brand| !brand.is_empty())
        .unwrap_or_else(|| format!("unknown {}", std::env::consts::ARCH));
    // All online CPUs, not `available_parallelism` (which follows affinity masks and cgroup
    // quotas, so would change the id under `taskset`); that only where sysinfo knows none.
    let logical_cores = match system.cpus().len() {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let os = System::long_os_version().or_else(System::name).unwrap_or_else(|| std::env::consts::OS.to_string());

    let mut info = MachineInfo {
        machine_id: String::new(),
        cpu_model,
        logical_cores,
        physical_cores: System::physical_core_count(),
        simd_features: simd_features(),
        caches: caches(),
        memory_bytes: system.total_memory(),
        os: format!("{os} {}", std::env::consts::ARCH),
        rustc_version: env!("DB_RUSTC_VERSION").to_string(),
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: Some(env!("DB_GIT_COMMIT")).filter(|c| !c.is_empty()).map(str::to_string),
        gemm_backend: gemm_backend.to_string(),
        threads,
        recorded_at: rfc3339_utc(SystemTime::now()),
    };
    info.machine_id = machine_id(&info);
    info
}

/// First 12 hex digits of SHA-256 over the hardware fields only (CPU model, core counts,
/// SIMD features, caches, memory rounded to GiB, OS), so the id is stable across runs,
/// builds, thread counts and dates on the same machine.
pub fn machine_id(info: &MachineInfo) -> String {
    const GIB: u64 = 1 << 30;
    let canonical = format!(
        "cpu={}\nlogical_cores={}\nphysical_cores={}\nsimd={}\ncaches={}\nmemory_gib={}\nos={}\n",
        info.cpu_model,
        info.logical_cores,
        info.physical_cores.map_or_else(|| "?".to_string(), |n| n.to_string()),
        info.simd_features.join(","),
        info.caches.join(","),
        (info.memory_bytes + GIB / 2) / GIB,
        info.os,
    );
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// SIMD extensions relevant to f32 GEMM, by their Rust target-feature names, in a fixed order.
fn simd_features() -> Vec<String> {
    #[allow(unused_mut)]
    let mut features: Vec<&str> = Vec::new();
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        macro_rules! detect {
            ($($name:tt),+) => {
                $(if std::arch::is_x86_feature_detected!($name) { features.push($name); })+
            };
        }
        detect!(
            "sse4.2",
            "avx",
            "avx2",
            "fma",
            "f16c",
            "avx512f",
            "avx512dq",
            "avx512bw",
            "avx512vl",
            "avx512vnni",
            "avx512bf16"
        );
        // Not detectable with std on stable Rust (or not at our MSRV): ask the kernel, which
        // lists a flag only when the OS also supports it.
        let flags = cpuinfo_flags();
        for (flag, name) in [
            ("avx512_fp16", "avx512fp16"),
            ("avx_vnni", "avxvnni"),
            ("amx_tile", "amx-tile"),
            ("amx_bf16", "amx-bf16"),
            ("amx_int8", "amx-int8"),
        ] {
            if flags.iter().any(|f| f == flag) {
                features.push(name);
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! detect {
            ($($name:tt),+) => {
                $(if std::arch::is_aarch64_feature_detected!($name) { features.push($name); })+
            };
        }
        detect!("neon", "fp16", "dotprod", "sve", "sve2");
    }
    features.into_iter().map(str::to_string).collect()
}

/// The `flags` line of the first processor in `/proc/cpuinfo` (empty where there is none).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn cpuinfo_flags() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    text.lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == "flags").then(|| value.split_whitespace().map(str::to_string).collect())
        })
        .unwrap_or_default()
}

/// CPU 0's caches from sysfs, e.g. `["L1d 32K", "L1i 32K", "L2 512K", "L3 32768K"]`.
fn caches() -> Vec<String> {
    caches_from(Path::new("/sys/devices/system/cpu/cpu0/cache"))
}

fn caches_from(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut indexed: Vec<(usize, String)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let index: usize = entry.file_name().to_str()?.strip_prefix("index")?.parse().ok()?;
            let read = |name: &str| {
                std::fs::read_to_string(entry.path().join(name))
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            };
            let level = read("level")?;
            let size = read("size")?;
            let suffix = match read("type").as_deref() {
                Some("Data") => "d",
                Some("Instruction") => "i",
                _ => "",
            };
            Some((index, format!("L{level}{suffix} {size}")))
        })
        .collect();
    indexed.sort();
    indexed.into_iter().map(|(_, cache)| cache).collect()
}

/// `time` as UTC RFC 3339 with whole seconds, e.g. `2026-11-26T14:03:09Z`.
pub fn rfc3339_utc(time: SystemTime) -> String {
    let secs = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Proleptic Gregorian (year, month, day) of `days` since 1970-01-01
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> String {
        rfc3339_utc(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn rfc3339_known_timestamps() {
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z"); // leap day of a /400 year
        assert_eq!(at(1_000_000_000), "2001-09-09T01:46:40Z");
        assert_eq!(at(1_234_567_890), "2009-02-13T23:31:30Z");
        assert_eq!(at(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(at(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(UNIX_EPOCH - Duration::from_secs(1)), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn civil_from_days_round_trips_month_lengths() {
        // Walk 1600-03-01 .. 2400 day by day and check the calendar advances consistently.
        let start = -135_080; // 1600-03-01
        let mut prev = civil_from_days(start - 1);
        assert_eq!(prev, (1600, 2, 29));
        for d in start..start + 800 * 366 {
            let (y, m, day) = civil_from_days(d);
            let last = |y: i64, m: u32| match m {
                2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            if day == 1 {
                assert_eq!(prev.2, last(prev.0, prev.1), "{prev:?} -> {y}-{m}-{day}");
                assert!((m == prev.1 + 1 && y == prev.0) || (m == 1 && prev.1 == 12 && y == prev.0 + 1));
            } else {
                assert_eq!((y, m, day), (prev.0, prev.1, prev.2 + 1));
            }
            prev = (y, m, day);
        }
    }

    #[test]
    fn fingerprint_fields_and_stable_id() {
        let a = fingerprint(1, "gemm");
        let b = fingerprint(8, "other");
        assert_eq!(a.machine_id, b.machine_id, "id must not depend on threads or backend");
        assert_eq!(a.machine_id.len(), 12);
        assert!(a.machine_id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(a.machine_id, machine_id(&a));
        assert!(a.logical_cores >= 1);
        assert!(!a.cpu_model.is_empty() && !a.os.is_empty());
        assert!(a.rustc_version.starts_with("rustc "), "{}", a.rustc_version);
        assert_eq!(a.crate_version, env!("CARGO_PKG_VERSION"));
        assert_eq!((a.threads, a.gemm_backend.as_str()), (1, "gemm"));
        assert_eq!(a.recorded_at.len(), "2026-11-26T00:00:00Z".len());
        if let Some(commit) = &a.git_commit {
            assert!(commit.chars().all(|c| c.is_ascii_hexdigit()), "{commit}");
        }
        #[cfg(target_arch = "x86_64")]
        assert!(a.simd_features.iter().any(|f| f == "sse4.2"));
    }

    #[test]
    fn id_ignores_build_and_time_but_not_hardware() {
        let mut a = fingerprint(2, "gemm");
        a.memory_bytes = 16 << 30;
        let mut b = a.clone();
        b.git_commit = Some("0123456789ab".into());
        b.rustc_version = "rustc 0.0.0".into();
        b.recorded_at = "2000-01-01T00:00:00Z".into();
        b.memory_bytes += 1 << 20; // rounding to GiB absorbs small differences
        assert_eq!(machine_id(&a), machine_id(&b));
        b.logical_cores += 1;
        assert_ne!(machine_id(&a), machine_id(&b));
    }

    /// A fixed fingerprint's id. Every results path contains the id, so a change to the
    /// canonical form (field order, rounding, separators) must be deliberate: it splits every
    /// machine's results from its earlier ones.
    #[test]
    fn machine_id_of_a_fixed_fingerprint_is_pinned() {
        let info = MachineInfo {
            machine_id: String::new(),
            cpu_model: "AMD EPYC 9R14".into(),
            logical_cores: 2,
            physical_cores: Some(1),
            simd_features: vec!["sse4.2".into(), "avx".into(), "avx2".into(), "fma".into()],
            caches: vec!["L1d 32K".into(), "L1i 32K".into(), "L2 1024K".into(), "L3 32768K".into()],
            memory_bytes: 24 * (1 << 30) - (3 << 20),
            os: "Linux 12 (bookworm) x86_64".into(),
            rustc_version: "rustc 1.91.0".into(),
            crate_version: "0.1.0".into(),
            git_commit: None,
            gemm_backend: "gemm".into(),
            threads: 2,
            recorded_at: "2026-11-28T00:00:00Z".into(),
        };
        assert_eq!(machine_id(&info), "4ec64b810e1b");
    }

    /// The committed fingerprints under reports/data/ carry the ids their results paths use.
    #[test]
    fn committed_fingerprints_keep_their_ids() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/data");
        let mut checked = 0;
        for machine_dir in std::fs::read_dir(&data).unwrap() {
            let machine_dir = machine_dir.unwrap().path();
            let Some(dir_id) = machine_dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
            for set in std::fs::read_dir(&machine_dir).unwrap() {
                let path = set.unwrap().path().join(MACHINE_JSON);
                if path.is_file() {
                    let info = read_machine_json(&path).unwrap();
                    assert_eq!((machine_id(&info), &info.machine_id), (dir_id.clone(), &dir_id), "{}", path.display());
                    checked += 1;
                }
            }
        }
        assert!(checked >= 5, "only {checked} committed fingerprints found");
    }

    #[test]
    fn json_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let info = fingerprint(3, "gemm");
        let sub = dir.path().join("results/x");
        write_machine_json(&sub, &info).unwrap();
        let read = read_machine_json(&sub.join(MACHINE_JSON)).unwrap();
        assert_eq!(read, info);
        // Only the final file remains.
        let names: Vec<_> = std::fs::read_dir(&sub).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [MACHINE_JSON]);
        // Overwrites in place.
        let other = fingerprint(4, "gemm");
        write_machine_json(&sub, &other).unwrap();
        assert_eq!(read_machine_json(&sub.join(MACHINE_JSON)).unwrap().threads, 4);
    }

    #[test]
    fn read_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        let err = read_machine_json(&missing).unwrap_err().to_string();
        assert!(err.contains("nope.json"), "{err}");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\n  \"machine_id\": 3\n}\n").unwrap();
        let err = read_machine_json(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.json:2"), "{err}");
    }

    #[test]
    fn caches_from_sysfs_layout() {
        let dir = tempfile::tempdir().unwrap();
        for (i, level, kind, size) in [
            (0, "1", "Data", "32K"),
            (1, "1", "Instruction", "32K"),
            (2, "2", "Unified", "512K"),
            (10, "3", "Unified", "32768K"),
        ] {
            let d = dir.path().join(format!("index{i}"));
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("level"), format!("{level}\n")).unwrap();
            std::fs::write(d.join("type"), format!("{kind}\n")).unwrap();
            std::fs::write(d.join("size"), format!("{size}\n")).unwrap();
        }
        std::fs::write(dir.path().join("uevent"), "").unwrap();
        assert_eq!(caches_from(dir.path()), ["L1d 32K", "L1i 32K", "L2 512K", "L3 32768K"]);
        assert!(caches_from(&dir.path().join("missing")).is_empty());
    }
}
