// Test helpers that run imgsearch as real child processes, to be signalled and killed.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "test_util.h"

namespace imgsearch::testing {

// Any imgsearch command in a child process, its output going to files.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& args) {
    std::string dir = MakeTempDir();
    out_path_ = dir + "/out";
    err_path_ = dir + "/err";
    std::vector<std::string> argv_strings = {IMGSEARCH_BINARY_FOR_KILL};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : argv_strings) argv.push_back(a.data());
      argv.push_back(nullptr);
      FILE* out = std::freopen(out_path_.c_str(), "w", stdout);
      FILE* err = std::freopen(err_path_.c_str(), "w", stderr);
      if (out == nullptr || err == nullptr) _exit(127);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~ChildProcess() {
    if (pid_ > 0) Signal(SIGKILL), Wait();
  }
  void Signal(int signal) {
    if (pid_ > 0) kill(pid_, signal);
  }
  // The exit status as waitpid reports it.
  int Wait() {
    if (pid_ > 0) waitpid(pid_, &status_, 0);
    pid_ = -1;
    return status_;
  }
  // True once it has exited (then Wait returns at once).
  bool Exited() {
    if (pid_ > 0 && waitpid(pid_, &status_, WNOHANG) == pid_) pid_ = -1;
    return pid_ <= 0;
  }
  std::string out() const { return ReadFileBytes(out_path_); }
  std::string err() const { return ReadFileBytes(err_path_); }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  std::string out_path_, err_path_;
};

// `imgsearch serve --db DB --port 0 --grpc-port -1` in a child process; the HTTP port is
// read from its first line of output, the gRPC port (Milvus's protocol) from the second.
// With "--grpc-port" among the extra arguments, those win (0: no gRPC, one line).
class ServeProcess {
 public:
  explicit ServeProcess(const std::string& db, std::vector<std::string> extra_args = {}) {
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    err_path_ = MakeTempDir() + "/err";
    bool grpc_given =
        std::find(extra_args.begin(), extra_args.end(), "--grpc-port") != extra_args.end();
    if (!grpc_given) extra_args.insert(extra_args.end(), {"--grpc-port", "-1"});
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      if (std::freopen(err_path_.c_str(), "w", stderr) == nullptr) _exit(127);
      std::vector<std::string> args = {
          IMGSEARCH_BINARY_FOR_KILL, "serve", "--db", db, "--port", "0"};
      args.insert(args.end(), extra_args.begin(), extra_args.end());
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    out_ = out[0];
    // The gRPC line follows the first unless gRPC is off (or the server failed).
    size_t lines = grpc_given ? 1 : 2;
    char buffer[256];
    while (size_t(std::count(output_.begin(), output_.end(), '\n')) < lines) {
      ssize_t n = read(out_, buffer, sizeof(buffer));
      if (n <= 0) break;
      output_.append(buffer, static_cast<size_t>(n));
    }
    size_t end = output_.find('\n');
    std::string first = output_.substr(0, end);
    size_t colon = first.rfind(':');
    port_ = colon == std::string::npos ? 0 : std::atoi(first.c_str() + colon + 1);
    if (end != std::string::npos) {
      std::string second = output_.substr(end + 1);
      colon = second.rfind(':');
      if (second.find("Milvus gRPC") != std::string::npos && colon != std::string::npos)
        grpc_port_ = std::atoi(second.c_str() + colon + 1);
    }
    output_ = first + "\n";
  }
  ~ServeProcess() {
    if (pid_ > 0) Signal(SIGKILL), Wait();
    close(out_);
  }
  int port() const { return port_; }
  int grpc_port() const { return grpc_port_; }
  const std::string& first_line() const { return output_; }
  // Everything it printed after the first line, up to its exit.
  std::string RestOfOutput() {
    std::string rest;
    char buffer[256];
    for (ssize_t n; (n = read(out_, buffer, sizeof(buffer))) > 0;)
      rest.append(buffer, static_cast<size_t>(n));
    return rest;
  }
  void Signal(int signal) { kill(pid_, signal); }
  // What it printed on stderr so far.
  std::string ErrorOutput() const { return ReadFileBytes(err_path_); }
  // The exit status as waitpid reports it.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int port_ = 0;
  int grpc_port_ = 0;
  std::string output_;
  std::string err_path_;
};

}  // namespace imgsearch::testing
