// Database-side augmentation (DBA, Radenović et al., TPAMI 2018): each stored float vector
// gets an augmented twin, normalise(x + sum_i max(0, sim_i)^alpha x_i) over its N nearest
// other images (ExpandQuery of rerank.h applied to x), and search compares queries with the
// twins. The twins live in a collection of their own beside the model's ("<model>__dba":
// id, vector, and the twin's neighbours, the distance of the N-th and a hash of the
// original it was made from), never in place of the originals. Binary models have none.
//
// Kept in step incrementally (SyncDba): a twin is made again only when its image is new or
// changed, when one of its neighbours left or changed, or when a new image is nearer than
// its N-th neighbour; the result is the same as a full rebuild (tested). Neighbours are
// found by exact search over the originals, in memory.
//
// Generations: a full build writes a new set of twin collections ("<model>__dba_<G>") while
// the old set stays in use, then switches to it in one write of the setting (which names
// G) and drops the old set; an incremental sync writes all of its twins in one
// transaction. So a search in any process, reading the setting (and the fusion stored with
// it) first, sees the complete old or the complete new twins; a set dropped under it makes
// it read the setting again and search the set switched to (Library::Search; the plain
// vectors, with a warning, only when the setting has not changed or after many switches).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "imgsearch/database.h"
#include "pipeline/model_set.h"

namespace imgsearch::pipeline {

// The setting under which a library keeps its choice: {"n": N, "alpha": A}; absent: off.
inline constexpr const char* kDbaSetting = "dba";

struct Dba {
  int n = 0;  // neighbours per twin; 0: off
  double alpha = 3;

  bool on() const { return n > 0; }
  std::string ToString() const;  // "off" or "N,alpha=A"
};

// "off", "N" or "N,alpha=A" (N 1..100, A 0..20).
Result<Dba> ParseDba(const std::string& text);

// The twins' collection of `model` in a generation (0: the name before generations).
std::string DbaCollectionName(const std::string& model, int64_t generation = 0);

// What the library uses: the setting and the generation of twins it names.
struct DbaState {
  Dba dba;
  int64_t generation = 0;

  bool operator==(const DbaState& other) const {
    return dba.n == other.dba.n && dba.alpha == other.dba.alpha && generation == other.generation;
  }
};

// The stored setting (off when there is none); a bad one is kCorruption.
Result<DbaState> StoredDbaState(const Database& db);
Result<Dba> StoredDba(const Database& db);
std::string DbaSetting(const Dba& dba, int64_t generation = 0);

struct DbaReport {
  size_t twins = 0;    // rows of the augmented collections after the run
  size_t remade = 0;   // twins computed in this run
  size_t removed = 0;  // twins of images that left
  double seconds = 0;
};

// Brings every float model's twins in step with its vectors under `dba`, and points each
// model's `augmented` at them. Incremental (one transaction) when the stored setting is
// `dba`; else, or with `full`, a full build of the next generation, switched to by
// storing the setting, the older generations then dropped.
Result<DbaReport> SyncDba(Database& db, std::vector<BoundModel>& models, const Dba& dba,
                          bool full = false);

// A complete set of twins under `dba` in `generation` (collections of that generation left
// by a run that died are made again), `augmented` pointed at them; not in use by anyone
// else until a setting naming the generation is stored (tune stores it with the fusion).
Result<DbaReport> BuildDba(Database& db, std::vector<BoundModel>& models, const Dba& dba,
                           int64_t generation);

// Drops the twin collections of the models' other generations than `keep` (-1: all).
Status DropOtherDba(Database& db, const std::vector<BoundModel>& models, int64_t keep);

// Stores the setting off, then drops every twin (models' `augmented` reset).
Status DropDba(Database& db, std::vector<BoundModel>& models);

// Points each float model's `augmented` at the twins the stored setting names; one that is
// missing (dropped by another process meanwhile) is left null with a warning.
Status AttachDba(Database& db, std::vector<BoundModel>& models);
// The same for a given state, without the warning: false when a twin it names is missing
// (that one left null; a newer state dropped it, or its catalog entry is not seen yet).
bool AttachDbaState(const Database& db, std::vector<BoundModel>& models, const DbaState& state);
// The warning when AttachDbaState found twins of `state` missing.
void WarnTwinsGone(const DbaState& state);

}  // namespace imgsearch::pipeline
