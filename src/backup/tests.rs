//! A backup of a small home written, listed, linked, verified, damaged and restored, through
//! the library (the CLI's and the task's behaviour is tested in `tests/it/backup.rs`).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::*;
use crate::adapters::parquet::ParquetPriceStore;
use crate::adapters::store::sqlite::{Durability, SqliteRunStore};
use crate::domain::ports::PriceStore;
use crate::domain::series::PriceSeries;
use crate::home::Home;

fn fx(n: usize, level: f64) -> PriceSeries {
    PriceSeries {
        ts: (0..n as i64)
            .map(|i| 1_600_000_000_000_000 + i * 86_400_000_000)
            .collect(),
        value: (0..n).map(|i| level + i as f64 * 0.01).collect(),
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    home: Home,
    store: SqliteRunStore,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let home = Home {
        root: dir.path().join("home"),
    };
    std::fs::create_dir_all(&home.root).unwrap();
    let store = SqliteRunStore::open(&home.db_path(), Durability::Normal)
        .await
        .unwrap();
    let prices = ParquetPriceStore::new(home.data_dir());
    prices.write_fx("EUR", &fx(50, 1.1)).unwrap();
    prices.write_fx("JPY", &fx(50, 0.007)).unwrap();
    std::fs::write(home.config_path(), "[backup]\nkeep_daily = 2\n").unwrap();
    std::fs::create_dir_all(home.logs_dir()).unwrap();
    std::fs::write(home.logs_dir().join("daily.log"), "log").unwrap();
    Fixture {
        _dir: dir,
        home,
        store,
    }
}

fn request(f: &Fixture, at: &str) -> BackupRequest {
    let (dest, create_dest) = destination(&f.home, None);
    BackupRequest {
        home: f.home.clone(),
        dest,
        create_dest,
        keep_daily: 2,
        keep_weekly: 0,
        now: at.parse().unwrap(),
    }
}

fn ino(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().ino()
}

#[tokio::test]
async fn backups_link_what_did_not_change_and_keep_the_newest() {
    let f = fixture().await;
    let first = create_backup(&f.store, &request(&f, "2024-06-27T23:30:00Z"), None)
        .await
        .unwrap();
    assert_eq!(first.name, "systrade-backup-20240627T233000.000Z");
    assert_eq!(first.linked, 0);
    assert_eq!(first.left_out, ["logs"]);
    let m = manifest::Manifest::read(&first.path).unwrap();
    let paths: Vec<&str> = m.files.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "config.toml",
            "data/fx/EUR.parquet",
            "data/fx/JPY.parquet",
            "systrade.db"
        ]
    );
    for e in &m.files {
        let (size, sha) = fsops::hash_file(&first.path.join(&e.path)).unwrap();
        assert_eq!(
            (size, sha.as_str()),
            (e.size, e.sha256.as_str()),
            "{}",
            e.path
        );
    }
    assert_eq!(
        m.schema_version,
        crate::adapters::store::sqlite_snapshot::latest_schema_version()
    );

    // EUR changes, JPY does not: JPY is a hard link of the first backup's copy.
    let prices = ParquetPriceStore::new(f.home.data_dir());
    prices.write_fx("EUR", &fx(51, 1.1)).unwrap();
    let second = create_backup(&f.store, &request(&f, "2024-06-28T23:30:00Z"), None)
        .await
        .unwrap();
    assert_eq!(second.linked, 2, "config.toml and JPY");
    let m2 = manifest::Manifest::read(&second.path).unwrap();
    let jpy = m2.entry("data/fx/JPY.parquet").unwrap();
    assert_eq!(jpy.linked_from.as_deref(), Some(first.name.as_str()));
    assert!(m2
        .entry("data/fx/EUR.parquet")
        .unwrap()
        .linked_from
        .is_none());
    assert_eq!(
        ino(&first.path.join("data/fx/JPY.parquet")),
        ino(&second.path.join("data/fx/JPY.parquet"))
    );
    assert!(verify_backup(&second.path).await.ok());

    // A third: the first expires (keep_daily = 2); the linked file lives on in the others.
    let third = create_backup(&f.store, &request(&f, "2024-06-29T23:30:00Z"), None)
        .await
        .unwrap();
    assert_eq!(third.expired, std::slice::from_ref(&first.name));
    assert!(!first.path.exists());
    let listing = list(&request(&f, "2024-06-29T23:30:00Z").dest, 2, 0).unwrap();
    assert_eq!(listing.backups.len(), 2);
    assert!(verify_backup(&third.path).await.ok());
}

#[tokio::test]
async fn verify_names_every_damaged_missing_and_extra_file() {
    let f = fixture().await;
    let b = create_backup(&f.store, &request(&f, "2024-06-27T23:30:00Z"), None)
        .await
        .unwrap();
    let report = verify_backup(&b.path).await;
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.parquet_files, 2);
    assert_eq!(report.parquet_rows, 100);
    assert_eq!(report.store_integrity, "ok");
    let eur = b.path.join("data/fx/EUR.parquet");
    let mut bytes = std::fs::read(&eur).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&eur, bytes).unwrap();
    std::fs::remove_file(b.path.join("data/fx/JPY.parquet")).unwrap();
    std::fs::write(b.path.join("stray.txt"), "x").unwrap();
    let report = verify_backup(&b.path).await;
    let named: Vec<(&str, &str)> = report
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.detail.as_str()))
        .collect();
    assert_eq!(named.len(), 3, "{named:?}");
    assert!(named[0].0 == "data/fx/EUR.parquet" && named[0].1.contains("SHA-256"));
    assert!(named[1].0 == "data/fx/JPY.parquet" && named[1].1.contains("missing"));
    assert!(named[2].0 == "stray.txt" && named[2].1.contains("not in the manifest"));
    // A damaged backup is never restored.
    let target = f.home.root.with_file_name("restored");
    let e = restore_new(&b.path, &target, b.created_at)
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::Damaged { .. }), "{e}");
    assert!(e.to_string().contains("data/fx/JPY.parquet"), "{e}");
    assert!(!target.exists());
    // The flipped byte alone is found after the copy, and nothing is left behind either.
    std::fs::copy(
        f.home.data_dir().join("fx/JPY.parquet"),
        b.path.join("data/fx/JPY.parquet"),
    )
    .unwrap();
    std::fs::remove_file(b.path.join("stray.txt")).unwrap();
    let e = restore_new(&b.path, &target, b.created_at)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("data/fx/EUR.parquet: differs"),
        "{e}"
    );
    assert!(!target.exists());
    let leftovers: Vec<_> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("restoring"))
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test]
async fn a_killed_backup_leaves_a_partial_that_the_next_removes_and_never_lists() {
    let f = fixture().await;
    let req = request(&f, "2024-06-27T23:30:00Z");
    let b = create_backup(&f.store, &req, None).await.unwrap();
    let leftover = req
        .dest
        .join(".systrade-backup-20240628T000000.000Z.partial");
    std::fs::create_dir(&leftover).unwrap();
    std::fs::write(leftover.join("systrade.db"), "half").unwrap();
    let listing = list(&req.dest, 7, 0).unwrap();
    assert_eq!(listing.backups.len(), 1);
    assert_eq!(listing.incomplete.len(), 1);
    let next = create_backup(&f.store, &request(&f, "2024-06-28T23:30:00Z"), None)
        .await
        .unwrap();
    assert_eq!(
        next.leftovers_removed,
        [".systrade-backup-20240628T000000.000Z.partial"]
    );
    assert!(!leftover.exists() && b.path.exists());
}

#[tokio::test]
async fn no_space_and_a_missing_configured_destination_are_refused_before_writing() {
    let f = fixture().await;
    let mut req = request(&f, "2024-06-27T23:30:00Z");
    req.dest = f.home.root.with_file_name("not-mounted");
    req.create_dest = false;
    let e = create_backup(&f.store, &req, None).await.unwrap_err();
    assert!(e.to_string().contains("mount the disk"), "{e}");
    assert!(!req.dest.exists());
}

#[tokio::test]
async fn a_restore_gives_the_same_files_and_refuses_a_newer_schema_or_a_full_target() {
    let f = fixture().await;
    let b = create_backup(&f.store, &request(&f, "2024-06-27T23:30:00Z"), None)
        .await
        .unwrap();
    let target = f.home.root.with_file_name("restored");
    let r = restore_new(&b.path, &target, b.created_at).await.unwrap();
    assert!(r.verify.ok());
    for rel in ["data/fx/EUR.parquet", "config.toml"] {
        assert_eq!(
            std::fs::read(f.home.root.join(rel)).unwrap(),
            std::fs::read(target.join(rel)).unwrap()
        );
    }
    let e = restore_new(&b.path, &target, b.created_at)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("is not empty"), "{e}");

    let newer = f.home.root.with_file_name("newer");
    std::fs::create_dir(&newer).unwrap();
    let mut m = manifest::Manifest::read(&b.path).unwrap();
    m.schema_version += 1;
    std::fs::write(newer.join(manifest::MANIFEST), m.to_json()).unwrap();
    let e = restore_new(&newer, &f.home.root.with_file_name("x"), b.created_at)
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::NewerSchema { .. }), "{e}");
    assert!(e.to_string().contains("newer than this systrade"), "{e}");

    // Replace: the old home is kept aside, its logs and backups move into the restored one.
    std::fs::write(
        f.home.root.join("config.toml"),
        "[backup]\nkeep_daily = 3\n",
    )
    .unwrap();
    let (dest, _) = destination(&f.home, None);
    f.store.close().await;
    let r = restore_replace(&b.path, &f.home, &dest, b.created_at)
        .await
        .unwrap();
    let aside = r.old_home.clone().unwrap();
    assert_eq!(
        std::fs::read_to_string(f.home.root.join("config.toml")).unwrap(),
        "[backup]\nkeep_daily = 2\n"
    );
    assert_eq!(
        std::fs::read_to_string(aside.join("config.toml")).unwrap(),
        "[backup]\nkeep_daily = 3\n"
    );
    assert_eq!(r.moved_in, ["logs", "backups"]);
    assert!(f.home.root.join("backups").join(&b.name).is_dir());
}
