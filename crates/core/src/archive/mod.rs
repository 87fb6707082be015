//! The archive: one zip holding a BagIt bag (RFC 8493), so that anyone can
//! check it years later with standard tools and without Keepsake.
//!
//! ```text
//! bagit.txt               BagIt-Version, Tag-File-Character-Encoding
//! bag-info.txt            who, which export, when, Payload-Oxum, Keepsake's version
//! manifest-sha256.txt     the SHA-256 of every payload file
//! tagmanifest-sha256.txt  the SHA-256 of every other tag file
//! data/...                the payload
//! ```
//!
//! [`ArchiveWriter`] streams entries into `<name>.partial` and renames it to
//! the final name only once the bag is complete and on disk; [`verify`]
//! re-reads a finished archive and checks every hash; [`names`] turns names
//! the platform sent into entry names safe on every file system.
//! [`PartedWriter`] writes the same bag whole or split into parts
//! (`NAME.part01-of-03.zip`, each a complete bag with `Bag-Count` and
//! `Bag-Group-Identifier`), and [`verify_set`] checks a whole set.
//!
//! This module never holds a whole entry in memory and never writes a file
//! with the final name before the archive is complete.

mod bagit;
mod journal;
pub mod names;
mod out;
mod part_names;
mod part_sizes;
mod part_writing;
mod parted;
mod partial;
mod planner;
mod prepare;
mod segments;
mod set;
mod spool_journal;
mod unsafe_names;
mod verify;
mod writer;
mod zipfmt;

#[cfg(test)]
mod tests;

pub use bagit::BagInfo;
pub use out::SyncPoint;
pub use part_names::{parse_part_file_name, part_file_name};
pub use parted::{
    FinishedSet, IndexRequest, MIN_PART_BYTES, MakeIndex, PartPlan, PartedWriter, PartsProgress,
    SplitOptions,
};
pub use partial::{SealedArchive, partial_path_for, remove_partial};
pub use prepare::{Deflating, Prepared, prepare_file, prepare_reader, prepare_verified_text};
pub use set::{PartReport, SetProblem, SetReport, verify_set, verify_set_telling};
pub use verify::{VerifyProblem, VerifyReport, read_entry_to_string, verify};
pub use writer::{ArchiveWriter, EntryInfo, FinishedArchive};

/// Read and write in pieces of this size: large enough for few system calls,
/// small enough that memory stays flat.
const CHUNK: usize = 64 * 1024;
