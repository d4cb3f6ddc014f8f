// Test helper: an indexed copy of the class fixtures served on a free loopback port.
#pragma once

#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "imgsearch/library.h"
#include "server/server.h"
#include "test_util.h"

namespace imgsearch::server {

inline const char* kReader = "reader-token-0123456789";
inline const char* kWriter = "writer-token-0123456789";

// An indexed copy of the class fixtures, served on a free port for the test's lifetime.
class ServerFixture {
 public:
  explicit ServerFixture(ServerOptions options = {})
      : images_(testing::MakeTempDir() + "/images"), db_dir_(testing::MakeTempDir() + "/db") {
    std::filesystem::copy(testing::FixturePath("classes"), images_,
                          std::filesystem::copy_options::recursive);
    {
      auto library = testing::ValueOrDie(Library::Open(db_dir_));
      IndexOptions index;
      index.paths = {images_};
      EXPECT_TRUE(library->Index(index).ok());
    }
    options.port = 0;
    server_ = testing::ValueOrDie(Server::Create(db_dir_, options));
    port_ = testing::ValueOrDie(server_->Bind());
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~ServerFixture() { Stop(); }
  httplib::Client Client(const char* token = nullptr) const {
    httplib::Client c("127.0.0.1", port_);
    if (token) c.set_bearer_token_auth(token);
    // Not httplib's 5 s: a write of thousands of rows under ThreadSanitizer, on a loaded
    // machine, took longer and the test read a missing answer.
    c.set_read_timeout(120, 0);
    return c;
  }
  const std::string& images() const { return images_; }
  const std::string& db_dir() const { return db_dir_; }
  int port() const { return port_; }
  // Stops the server (as the destructor does first); safe to call twice.
  void Stop() {
    if (!thread_.joinable()) return;
    server_->Stop();
    thread_.join();
  }

 private:
  std::string images_, db_dir_;
  std::unique_ptr<Server> server_;
  int port_ = 0;
  std::thread thread_;
};

// The answer's JSON; a request that got no answer fails the test, not the process.
inline nlohmann::json Body(const httplib::Result& r) {
  if (!r) {
    ADD_FAILURE() << "no answer: " << httplib::to_string(r.error());
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(r->body);
}

}  // namespace imgsearch::server
