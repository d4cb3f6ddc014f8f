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

std::string DbaCollectionName(const std::string& model);

// The stored setting (off when there is none); a bad one is kCorruption.
Result<Dba> StoredDba(const Database& db);
std::string DbaSetting(const Dba& dba);

struct DbaReport {
  size_t twins = 0;    // rows of the augmented collections after the run
  size_t remade = 0;   // twins computed in this run
  size_t removed = 0;  // twins of images that left
  double seconds = 0;
};

// Brings every float model's twins in step with its vectors under `dba` (creating the
// collections when missing), and points each model's `augmented` at them. `full`: every
// twin is made again (a rebuild; also what a changed N or alpha needs).
Result<DbaReport> SyncDba(Database& db, std::vector<BoundModel>& models, const Dba& dba,
                          bool full = false);

// Drops the twins and forgets them (models' `augmented` reset).
Status DropDba(Database& db, std::vector<BoundModel>& models);

// Points each float model's `augmented` at its twins' collection when it exists.
Status AttachDba(Database& db, std::vector<BoundModel>& models);

}  // namespace imgsearch::pipeline
