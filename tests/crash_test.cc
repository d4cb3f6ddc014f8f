// Acknowledged writes survive kill -9: a child process writes in a loop and is killed
// with SIGKILL at random moments, 50 times; after every reopen each acknowledged row is
// present with identical vector bytes and fields, each acknowledged delete stays deleted,
// the count matches, and the operation in flight at the kill landed whole or not at all.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "crash_rows.h"
#include "imgsearch/database.h"
#include "test_util.h"

extern char** environ;

namespace imgsearch {
namespace {

struct Operation {
  char kind = 0;                                  // I, U or D
  std::vector<std::pair<int64_t, int64_t>> rows;  // id, version
};

// Runs the writer until `run_ms` after it is ready, kills it, and returns its output.
std::string RunAndKill(const std::string& dir, uint64_t seed, int run_ms) {
  int pipe_fds[2];
  EXPECT_EQ(pipe(pipe_fds), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::string seed_text = std::to_string(seed);
  char* args[] = {const_cast<char*>(CRASH_CHILD_BINARY), const_cast<char*>(dir.c_str()),
                  seed_text.data(), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, CRASH_CHILD_BINARY, &actions, nullptr, args, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  std::string output;
  char buffer[4096];
  bool ready = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!ready && std::chrono::steady_clock::now() < deadline) {  // wait for "R"
    ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    output.append(buffer, static_cast<size_t>(n));
    ready = output.find("R\n") != std::string::npos;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(run_ms));
  kill(pid, SIGKILL);
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0;)
    output.append(buffer, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the writer stopped by itself:\n"
                                   << output.substr(output.size() > 500 ? output.size() - 500 : 0);
  return output;
}

Operation ParseOperation(const std::string& line) {
  Operation op;
  op.kind = line[2];
  std::istringstream in(line.substr(3));
  std::string item;
  while (in >> item) {
    size_t colon = item.find(':');
    op.rows.emplace_back(std::stoll(item.substr(0, colon)), std::stoll(item.substr(colon + 1)));
  }
  return op;
}

void ApplyOperation(const Operation& op, std::map<int64_t, int64_t>* model) {
  for (auto [id, version] : op.rows) {
    if (op.kind == 'D') {
      model->erase(id);
    } else {
      (*model)[id] = version;
    }
  }
}

// Whether the database shows `op` applied: all of its rows, or none of them.
bool OperationLanded(Collection& c, const Operation& op, const std::map<int64_t, int64_t>& model) {
  int landed = 0;
  for (auto [id, version] : op.rows) {
    auto rows = c.Get({id}, {"version"});
    EXPECT_TRUE(rows.ok());
    bool present = !rows->empty();
    if (op.kind == 'D') {
      landed += !present;
    } else {
      landed += present && (*rows)[0].fields["version"] == version &&
                !(model.count(id) && model.at(id) == version);
    }
  }
  EXPECT_TRUE(landed == 0 || landed == static_cast<int>(op.rows.size()))
      << "operation " << op.kind << " landed in part: " << landed << " of " << op.rows.size();
  return landed > 0;
}

void CheckAgainstModel(Collection& c, const std::map<int64_t, int64_t>& model,
                       const std::set<int64_t>& deleted) {
  EXPECT_EQ(c.Count(), static_cast<int64_t>(model.size()));
  std::vector<int64_t> ids;
  for (const auto& [id, version] : model) ids.push_back(id);
  auto rows = c.Get(ids, {"*"});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), model.size());
  for (const Row& row : *rows) {
    int64_t version = model.at(row.id);
    std::vector<float> want = testing::CrashVector(row.id, version);
    ASSERT_EQ(row.vector.size(), want.size());
    EXPECT_EQ(std::memcmp(row.vector.data(), want.data(), want.size() * sizeof(float)), 0)
        << "row " << row.id;
    EXPECT_EQ(row.fields, testing::CrashFields(row.id, version)) << "row " << row.id;
  }
  std::vector<int64_t> gone;
  for (int64_t id : deleted) {
    if (!model.count(id)) gone.push_back(id);
  }
  auto resurrected = c.Get(gone, {});
  ASSERT_TRUE(resurrected.ok());
  EXPECT_TRUE(resurrected->empty()) << resurrected->size() << " deleted rows came back";
  // Searches find rows by their own vectors.
  if (!model.empty()) {
    auto [id, version] = *std::next(model.begin(), static_cast<long>(model.size() / 2));
    SearchRequest req;
    req.vectors = {testing::CrashVector(id, version)};
    req.limit = 1;
    auto hits = c.Search(req);
    ASSERT_TRUE(hits.ok());
    ASSERT_FALSE((*hits)[0].empty());
    EXPECT_NEAR((*hits)[0][0].distance, 0.0f, 1e-4);
  }
}

TEST(CrashTest, AcknowledgedWritesSurviveFiftySigkills) {
  std::string dir = testing::MakeTempDir();
  std::map<int64_t, int64_t> model;  // id -> version of every live acknowledged row
  std::set<int64_t> deleted;         // ids whose delete was acknowledged at some point
  std::mt19937 rng(20261122);
  int acknowledged = 0, in_flight_landed = 0;
  for (int round = 0; round < 50; ++round) {
    std::string output = RunAndKill(dir, rng(), 30 + static_cast<int>(rng() % 220));
    std::istringstream lines(output);
    std::optional<Operation> pending;
    for (std::string line; std::getline(lines, line);) {
      ASSERT_NE(line[0], 'E') << line;
      if (line[0] == 'P') {
        pending = ParseOperation(line);
      } else if (line == "A" && pending) {
        ApplyOperation(*pending, &model);
        if (pending->kind == 'D') {
          for (auto [id, v] : pending->rows) deleted.insert(id);
        }
        pending.reset();
        ++acknowledged;
      }
    }
    auto db = Database::Open(dir);
    ASSERT_TRUE(db.ok()) << "round " << round << ": " << db.status().ToString();
    auto c = (*db)->GetCollection("crash");
    ASSERT_TRUE(c.ok());
    if (pending && OperationLanded(**c, *pending, model)) {
      ApplyOperation(*pending, &model);  // committed, killed before it could say so
      ++in_flight_landed;
    }
    CheckAgainstModel(**c, model, deleted);
    if (HasFatalFailure()) return;
  }
  std::printf(
      "50 kills: %d acknowledged operations, %d in-flight operations landed, %zu live rows\n",
      acknowledged, in_flight_landed, model.size());
  EXPECT_GT(acknowledged, 100);
}

}  // namespace
}  // namespace imgsearch
