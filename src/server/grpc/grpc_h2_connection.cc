#include "server/grpc/grpc_h2_connection.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace imgsearch::server {

namespace {

constexpr std::string_view kServicePrefix = "/milvus.proto.milvus.MilvusService/";
constexpr size_t kPrefixBytes = 5;  // gRPC's message prefix: compressed flag, 4 bytes length
// Large windows, so that a 10 MB insert streams in without waiting for WINDOW_UPDATEs
// (nghttp2 sends them as the application takes the bytes).
constexpr int32_t kStreamWindow = 16 << 20;
constexpr int32_t kConnectionWindow = 64 << 20;
constexpr uint32_t kMaxConcurrentStreams = 256;
constexpr uint32_t kMaxFrameBytes = 1 << 20;
// Request headers of one call beyond this reset its stream (grpc's default limit is 8 KB).
constexpr size_t kMaxHeaderBytes = 64 << 10;

bool IsGrpcContentType(std::string_view type) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (type.substr(0, kGrpc.size()) != kGrpc) return false;
  return type.size() == kGrpc.size() || type[kGrpc.size()] == '+' || type[kGrpc.size()] == ';';
}

nghttp2_nv Header(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NO_COPY_NAME};
}

}  // namespace

std::string PercentEncodeGrpcMessage(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte <= 0x7e && byte != '%') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    }
  }
  return out;
}

struct GrpcH2Connection::Impl {
  // One stream: a call from its first HEADERS until nghttp2 closes it.
  struct Stream {
    int32_t id = 0;
    std::string path;
    std::string authorization;
    std::string encoding;
    bool grpc_content_type = false;
    size_t header_bytes = 0;
    // The request message, as it arrives: prefix, then `length` bytes.
    unsigned char prefix[kPrefixBytes] = {};
    size_t prefix_bytes = 0;
    uint32_t length = 0;
    std::string message;
    int messages = 0;       // complete ones
    bool answered = false;  // answer submitted or on its way: later request bytes are dropped
    // The response: prefix and message, sent from `sent` on, then the trailers.
    std::string response;
    size_t sent = 0;
  };

  Impl(size_t max_message, Handler h) : max_message_bytes(max_message), handler(std::move(h)) {}
  ~Impl() {
    if (session != nullptr) nghttp2_session_del(session);
  }

  bool Start();
  Stream* Find(int32_t id) {
    auto it = streams.find(id);
    return it == streams.end() ? nullptr : &it->second;
  }
  void HeadersDone(Stream& s);
  int Data(Stream& s, const uint8_t* data, size_t len);
  void EndOfRequest(Stream& s);
  void Respond(Stream& s, GrpcAnswer answer);
  void Refuse(Stream& s, GrpcCode code, const std::string& message, const char* status = "200");

  static Impl& Of(void* user_data) { return *static_cast<Impl*>(user_data); }

  const size_t max_message_bytes;
  Handler handler;
  nghttp2_session* session = nullptr;
  std::unordered_map<int32_t, Stream> streams;
  size_t buffered = 0;  // request bytes held over every stream
};

namespace {

using Impl = GrpcH2Connection::Impl;

int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    Impl::Of(user_data).streams[frame->hd.stream_id].id = frame->hd.stream_id;
  return 0;
}

int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name_bytes,
             size_t name_len, const uint8_t* value_bytes, size_t value_len, uint8_t,
             void* user_data) {
  Impl::Stream* s = Impl::Of(user_data).Find(frame->hd.stream_id);
  if (s == nullptr || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers
  s->header_bytes += name_len + value_len + 32;
  if (s->header_bytes > kMaxHeaderBytes) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  std::string_view name(reinterpret_cast<const char*>(name_bytes), name_len);
  std::string_view value(reinterpret_cast<const char*>(value_bytes), value_len);
  if (name == ":path") {
    s->path = value;
  } else if (name == "content-type") {
    s->grpc_content_type = IsGrpcContentType(value);
  } else if (name == "grpc-encoding") {
    s->encoding = value;
  } else if (name == "authorization") {
    s->authorization = value;
  }
  return 0;
}

int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  Impl& impl = Impl::Of(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  Impl::Stream* s = impl.Find(frame->hd.stream_id);
  if (s == nullptr) return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    impl.HeadersDone(*s);
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) impl.EndOfRequest(*s);
  return 0;
}

int OnDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                void* user_data) {
  Impl& impl = Impl::Of(user_data);
  Impl::Stream* s = impl.Find(stream_id);
  return s == nullptr ? 0 : impl.Data(*s, data, len);
}

int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t, void* user_data) {
  Impl& impl = Impl::Of(user_data);
  if (Impl::Stream* s = impl.Find(stream_id)) {
    impl.buffered -= s->message.size();
    impl.streams.erase(stream_id);
  }
  return 0;
}

// An answer sent before the request ended (an oversized message, a refused path): the
// rest of the request is not wanted, which HTTP/2 says with RST_STREAM(NO_ERROR).
int OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void*) {
  if (frame->hd.type == NGHTTP2_HEADERS && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 &&
      nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

ssize_t ReadResponse(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                     uint32_t* data_flags, nghttp2_data_source* source, void*) {
  auto* s = static_cast<Impl::Stream*>(source->ptr);
  size_t n = std::min(length, s->response.size() - s->sent);
  std::memcpy(buf, s->response.data() + s->sent, n);
  s->sent += n;
  if (s->sent == s->response.size()) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    nghttp2_nv trailer = Header("grpc-status", "0");
    if (nghttp2_submit_trailer(session, stream_id, &trailer, 1) != 0)
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  return ssize_t(n);
}

}  // namespace

bool Impl::Start() {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) return false;
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, OnFrameSend);
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  nghttp2_option_set_max_deflate_dynamic_table_size(option, 4096);
  int rv = nghttp2_session_server_new2(&session, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) return false;
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, uint32_t(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, kMaxFrameBytes},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, uint32_t(kMaxHeaderBytes)},
  };
  return nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, std::size(settings)) == 0 &&
         nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, kConnectionWindow) ==
             0;
}

void Impl::HeadersDone(Stream& s) {
  if (!s.grpc_content_type) {
    Refuse(s, GrpcCode::kUnknown, "content-type must be application/grpc", "415");
  } else if (std::string_view(s.path).substr(0, kServicePrefix.size()) != kServicePrefix) {
    Refuse(s, GrpcCode::kUnimplemented,
           "imgsearch serves milvus.proto.milvus.MilvusService only, not " + s.path);
  } else if (!s.encoding.empty() && s.encoding != "identity") {
    Refuse(s, GrpcCode::kUnimplemented,
           "grpc-encoding " + s.encoding + " is not supported (identity only)");
  }
}

int Impl::Data(Stream& s, const uint8_t* data, size_t len) {
  while (len > 0 && !s.answered) {
    if (s.prefix_bytes < kPrefixBytes) {
      size_t n = std::min(len, kPrefixBytes - s.prefix_bytes);
      std::memcpy(s.prefix + s.prefix_bytes, data, n);
      s.prefix_bytes += n;
      data += n;
      len -= n;
      if (s.prefix_bytes < kPrefixBytes) break;
      s.length = uint32_t(s.prefix[1]) << 24 | uint32_t(s.prefix[2]) << 16 |
                 uint32_t(s.prefix[3]) << 8 | uint32_t(s.prefix[4]);
      if (s.prefix[0] != 0) {
        Refuse(s, GrpcCode::kInternal,
               "a compressed request message, but no grpc-encoding was agreed (identity only)");
      } else if (s.messages > 0) {
        Refuse(s, GrpcCode::kInvalidArgument, "more than one request message in a unary call");
      } else if (s.length > max_message_bytes) {
        Refuse(s, GrpcCode::kResourceExhausted,
               "Received message larger than max (" + std::to_string(s.length) + " vs. " +
                   std::to_string(max_message_bytes) + ")");
      } else if (buffered + s.length > 2 * max_message_bytes + (64u << 20)) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;  // a peer holding many messages half sent
      } else {
        s.message.reserve(std::min<size_t>(s.length, 4u << 20));
      }
      if (s.answered) break;
    }
    size_t n = std::min(len, size_t(s.length) - s.message.size());
    s.message.append(reinterpret_cast<const char*>(data), n);
    buffered += n;
    data += n;
    len -= n;
    if (s.message.size() == s.length) {
      ++s.messages;
      s.prefix_bytes = 0;
    }
  }
  return 0;
}

void Impl::EndOfRequest(Stream& s) {
  if (s.answered) return;
  if (s.messages == 0 || s.prefix_bytes != 0) {
    Refuse(s, GrpcCode::kInvalidArgument,
           s.messages == 0 && s.prefix_bytes == 0 ? "no request message"
                                                  : "the request message is cut short");
    return;
  }
  s.answered = true;
  GrpcRequest request;
  request.stream = s.id;
  request.method = std::string_view(s.path).substr(kServicePrefix.size());
  request.authorization = s.authorization;
  buffered -= s.message.size();
  request.message = std::move(s.message);
  s.message.clear();
  std::optional<GrpcAnswer> answer = handler(request);
  if (answer) Respond(s, std::move(*answer));
}

void Impl::Respond(Stream& s, GrpcAnswer answer) {
  s.answered = true;
  if (answer.code != GrpcCode::kOk) {
    Refuse(s, answer.code, answer.message);
    return;
  }
  s.response.resize(kPrefixBytes);
  auto length = uint32_t(answer.response.size());
  s.response[1] = char(length >> 24);
  s.response[2] = char(length >> 16);
  s.response[3] = char(length >> 8);
  s.response[4] = char(length);
  s.response += answer.response;
  const nghttp2_nv headers[] = {Header(":status", "200"),
                                Header("content-type", "application/grpc")};
  nghttp2_data_provider provider;
  provider.source.ptr = &s;
  provider.read_callback = ReadResponse;
  if (nghttp2_submit_response(session, s.id, headers, std::size(headers), &provider) != 0)
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
}

void Impl::Refuse(Stream& s, GrpcCode code, const std::string& message, const char* status) {
  s.answered = true;
  buffered -= s.message.size();
  std::string().swap(s.message);
  std::string code_text = std::to_string(int(code));
  std::string encoded = PercentEncodeGrpcMessage(message);
  const nghttp2_nv headers[] = {Header(":status", status),
                                Header("content-type", "application/grpc"),
                                Header("grpc-status", code_text), Header("grpc-message", encoded)};
  if (nghttp2_submit_response(session, s.id, headers, std::size(headers), nullptr) != 0)
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
}

GrpcH2Connection::GrpcH2Connection(size_t max_message_bytes, Handler handler)
    : impl_(std::make_unique<Impl>(max_message_bytes, std::move(handler))) {
  if (!impl_->Start() && impl_->session != nullptr) {
    nghttp2_session_del(impl_->session);
    impl_->session = nullptr;
  }
}

GrpcH2Connection::~GrpcH2Connection() = default;

bool GrpcH2Connection::Receive(std::string_view bytes) {
  if (impl_->session == nullptr) return false;
  ssize_t rv = nghttp2_session_mem_recv(
      impl_->session, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return rv >= 0;
}

void GrpcH2Connection::Answer(int32_t stream, GrpcAnswer answer) {
  if (impl_->session == nullptr) return;
  if (Impl::Stream* s = impl_->Find(stream)) impl_->Respond(*s, std::move(answer));
}

bool GrpcH2Connection::Send(std::string* out, size_t limit) {
  if (impl_->session == nullptr) return false;
  while (out->size() < limit) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(impl_->session, &data);
    if (n < 0) return false;
    if (n == 0) break;
    out->append(reinterpret_cast<const char*>(data), size_t(n));
  }
  return true;
}

bool GrpcH2Connection::done() const {
  return impl_->session == nullptr || (nghttp2_session_want_read(impl_->session) == 0 &&
                                       nghttp2_session_want_write(impl_->session) == 0);
}

void GrpcH2Connection::Shutdown() {
  if (impl_->session == nullptr) return;
  nghttp2_submit_goaway(impl_->session, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(impl_->session), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

size_t GrpcH2Connection::open_streams() const {
  return impl_->streams.size();
}

}  // namespace imgsearch::server
