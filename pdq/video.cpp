// Video frame hashing after vPDQ's reference C++ (ThreatExchange vpdq/cpp/vpdq/cpp/hashing/
// filehasher.cpp, ffmpegwrapper.cpp, hasher.h, pdqbufferhasher.cpp; io/vpdqio.cpp): the first
// video stream, every decoded frame counted, frame n hashed when n % int(seconds * fps) == 0,
// converted by swscale with SWS_AREA to RGB24 at the stream's own size, timestamp n / fps in float.
// Input always comes through our own AVIOContext (a file is read by pread), so libavformat never
// opens a path or a protocol itself, and only the container demuxers listed below are probed.
#include "pdq/video.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <istream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libswscale/swscale.h>
}

namespace safehold::pdq {
namespace {

// The demuxers probed: the video containers phones and cameras write and carve recognises.
constexpr const char* kFormats = "mov,mp4,m4a,3gp,3g2,mj2,avi,matroska,webm,asf,flv,mpeg,mpegts";
constexpr int kIoBuffer = 64 * 1024;

struct FormatDeleter {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct CodecDeleter {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct FrameDeleter {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsDeleter {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};
struct DictDeleter {
  void operator()(AVDictionary* p) const { av_dict_free(&p); }
};

// The custom I/O: a read callback and a position, with its AVIOContext (freed last).
struct Source {
  const ReadAt* read = nullptr;
  uint64_t size = 0, pos = 0;
};
struct IoDeleter {
  void operator()(AVIOContext* p) const {
    av_freep(&p->buffer);
    avio_context_free(&p);
  }
};

int read_packet(void* opaque, uint8_t* buf, int n) {
  auto* s = static_cast<Source*>(opaque);
  if (s->pos >= s->size) return AVERROR_EOF;
  size_t want = static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(n), s->size - s->pos));
  int64_t got = (*s->read)(s->pos, buf, want);
  if (got < 0) return AVERROR(EIO);
  if (got == 0) return AVERROR_EOF;
  s->pos += static_cast<uint64_t>(got);
  return static_cast<int>(got);
}

int64_t seek(void* opaque, int64_t offset, int whence) {
  auto* s = static_cast<Source*>(opaque);
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) return static_cast<int64_t>(s->size);
  int64_t base = whence == SEEK_SET   ? 0
                 : whence == SEEK_CUR ? static_cast<int64_t>(s->pos)
                 : whence == SEEK_END ? static_cast<int64_t>(s->size)
                                      : -1;
  if (base < 0 || offset > INT64_MAX - base || base + offset < 0) return AVERROR(EINVAL);
  s->pos = static_cast<uint64_t>(base + offset);
  return static_cast<int64_t>(s->pos);
}

std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

void quiet_ffmpeg() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_QUIET); });
}

class Decoder {
 public:
  Decoder(const ReadAt& read, uint64_t size, std::string_view name, const VideoOptions& opts)
      : name_(name), opts_(opts) {
    src_.read = &read;
    src_.size = size;
    open_input();
    pick_stream();
    open_codec();
    sampling();
  }
  VideoHashes run();

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw VideoError(fmt::format("{}: {}", name_, what));
  }
  void open_input();
  void pick_stream();
  void open_codec();
  void sampling();
  void check_size(int w, int h, const char* what) const;
  void check_claims() const;
  void send(const AVPacket* pkt);
  void receive();
  void hash_frame();
  static int get_buffer(AVCodecContext* c, AVFrame* f, int flags);

  std::string name_;
  VideoOptions opts_;
  Source src_;
  std::unique_ptr<AVIOContext, IoDeleter> io_;
  std::unique_ptr<AVFormatContext, FormatDeleter> fmt_;
  std::unique_ptr<AVCodecContext, CodecDeleter> codec_;
  std::unique_ptr<AVFrame, FrameDeleter> frame_{av_frame_alloc()};
  std::unique_ptr<AVFrame, FrameDeleter> rgb_{av_frame_alloc()};
  SwsContext* sws_ = nullptr;  // owned by sws_owner_ (sws_getCachedContext may replace it)
  std::unique_ptr<SwsContext, SwsDeleter> sws_owner_;
  int stream_ = -1;
  int64_t frame_mod_ = 1;
  float fps_ = 0;
  VideoHashes out_;
  Workspace ws_;
  std::mutex oversize_mutex_;                    // get_buffer runs on the decoder's threads
  std::optional<std::pair<int, int>> oversize_;  // the first frame refused by get_buffer
};

void Decoder::open_input() {
  quiet_ffmpeg();
  auto* buf = static_cast<uint8_t*>(av_malloc(kIoBuffer));
  if (!buf) fail("out of memory for its I/O buffer");
  AVIOContext* io = avio_alloc_context(buf, kIoBuffer, 0, &src_, read_packet, nullptr, seek);
  if (!io) {
    av_free(buf);
    fail("out of memory for its I/O context");
  }
  io_.reset(io);
  AVFormatContext* fc = avformat_alloc_context();
  if (!fc) fail("out of memory for its format context");
  fc->pb = io;
  fc->flags |= AVFMT_FLAG_CUSTOM_IO;
  AVDictionary* raw = nullptr;
  av_dict_set(&raw, "format_whitelist", kFormats, 0);
  av_dict_set(&raw, "protocol_whitelist", "none", 0);
  std::unique_ptr<AVDictionary, DictDeleter> dict(raw);
  AVDictionary* d = dict.release();
  int err = avformat_open_input(&fc, nullptr, nullptr, &d);  // frees fc on failure
  dict.reset(d);
  if (err < 0) fail("is not a video FFmpeg can open (" + av_error(err) + ")");
  fmt_.reset(fc);
  check_claims();
  // The probing decoders refuse pictures over the bound rather than allocate them.
  std::vector<AVDictionary*> per_stream(fc->nb_streams, nullptr);
  for (auto*& o : per_stream)
    av_dict_set_int(&o, "max_pixels", static_cast<int64_t>(opts_.max_pixels), 0);
  err = avformat_find_stream_info(fc, per_stream.data());
  for (auto*& o : per_stream) av_dict_free(&o);
  if (err < 0) fail("its streams cannot be read (" + av_error(err) + ")");
  out_.info.container = fc->iformat->name;
}

void Decoder::check_size(int w, int h, const char* what) const {
  if (w <= 0 || h <= 0) fail(fmt::format("{} has no picture size", what));
  if (w > opts_.max_side || h > opts_.max_side ||
      static_cast<uint64_t>(w) * static_cast<uint64_t>(h) > opts_.max_pixels)
    fail(fmt::format("{} claims {}x{} pixels, more than the {} a side and {} in all allowed", what,
                     w, h, opts_.max_side, opts_.max_pixels));
}

// What the container claims, before any decoder runs (probing may replace it with the decoder's).
void Decoder::check_claims() const {
  for (unsigned i = 0; i < fmt_->nb_streams; ++i) {
    const AVCodecParameters* p = fmt_->streams[i]->codecpar;
    if (p->codec_type == AVMEDIA_TYPE_VIDEO && (p->width > 0 || p->height > 0))
      check_size(p->width, p->height, "its video stream");
  }
}

void Decoder::pick_stream() {
  for (unsigned i = 0; i < fmt_->nb_streams; ++i)
    if (fmt_->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
      stream_ = static_cast<int>(i);
      break;
    }
  if (stream_ < 0) fail("holds no video stream");
  const AVStream* st = fmt_->streams[stream_];
  check_size(st->codecpar->width, st->codecpar->height, "its video stream");
  if (st->nb_frames < 0 || static_cast<uint64_t>(st->nb_frames) > opts_.max_frames)
    fail(fmt::format("its video stream claims {} frames, more than the {} allowed", st->nb_frames,
                     opts_.max_frames));
  if (fmt_->duration != AV_NOPTS_VALUE &&
      static_cast<double>(fmt_->duration) / AV_TIME_BASE > opts_.max_seconds)
    fail(fmt::format("claims a duration of {:.0f} seconds, more than the {:.0f} allowed",
                     static_cast<double>(fmt_->duration) / AV_TIME_BASE, opts_.max_seconds));
  out_.info.width = st->codecpar->width;
  out_.info.height = st->codecpar->height;
}

void Decoder::open_codec() {
  const AVCodecParameters* par = fmt_->streams[stream_]->codecpar;
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (!codec)
    fail(fmt::format("its video codec ({}) has no decoder", avcodec_get_name(par->codec_id)));
  codec_.reset(avcodec_alloc_context3(codec));
  if (!codec_) fail("out of memory for its decoder");
  if (avcodec_parameters_to_context(codec_.get(), par) < 0)
    fail("its codec parameters are invalid");
  codec_->thread_count = opts_.threads;
  codec_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  // Every frame buffer passes get_buffer, which refuses pictures over the bounds (and records
  // the claim for the error) instead of letting the decoder allocate them.
  codec_->opaque = this;
  codec_->get_buffer2 = &Decoder::get_buffer;
  int err = avcodec_open2(codec_.get(), codec, nullptr);
  if (err < 0)
    fail(fmt::format("its {} decoder cannot be opened ({})", codec->name, av_error(err)));
  out_.info.codec = codec->name;
}

void Decoder::sampling() {
  const AVStream* st = fmt_->streams[stream_];
  AVRational r = st->avg_frame_rate;
  if (r.num == 0 || r.den == 0) r = st->r_frame_rate;
  double rate = r.den == 0 ? 0 : static_cast<double>(r.num) / static_cast<double>(r.den);
  if (!(rate > 0)) fail("its video stream has no frame rate");
  if (rate > opts_.max_frame_rate)
    fail(fmt::format("its video stream claims {:.0f} frames a second, more than the {:.0f} allowed",
                     rate, opts_.max_frame_rate));
  if (!(opts_.seconds_per_hash >= 0 && opts_.seconds_per_hash <= 3600))
    fail(
        fmt::format("{} seconds between hashes is not between 0 and 3600", opts_.seconds_per_hash));
  out_.info.frame_rate = rate;
  fps_ = static_cast<float>(rate);
  frame_mod_ = static_cast<int64_t>(opts_.seconds_per_hash * rate);
  if (frame_mod_ == 0) frame_mod_ = 1;
  if (!frame_ || !rgb_) fail("out of memory for its frames");
  rgb_->format = AV_PIX_FMT_RGB24;
  rgb_->width = out_.info.width;
  rgb_->height = out_.info.height;
  if (av_frame_get_buffer(rgb_.get(), 0) < 0) fail("out of memory for an RGB frame");
}

int Decoder::get_buffer(AVCodecContext* c, AVFrame* f, int flags) {
  auto* d = static_cast<Decoder*>(c->opaque);
  const auto& o = d->opts_;
  if (f->width > o.max_side || f->height > o.max_side ||
      static_cast<uint64_t>(f->width) * static_cast<uint64_t>(f->height) > o.max_pixels) {
    std::lock_guard lock(d->oversize_mutex_);
    if (!d->oversize_) d->oversize_ = std::pair{f->width, f->height};
    return AVERROR(EINVAL);
  }
  return avcodec_default_get_buffer2(c, f, flags);
}

void Decoder::hash_frame() {
  const AVFrame* f = frame_.get();
  check_size(f->width, f->height, "a decoded frame");
  sws_ = sws_getCachedContext(sws_, f->width, f->height, static_cast<AVPixelFormat>(f->format),
                              out_.info.width, out_.info.height, AV_PIX_FMT_RGB24, SWS_AREA,
                              nullptr, nullptr, nullptr);
  sws_owner_.release();
  sws_owner_.reset(sws_);
  if (!sws_) fail(fmt::format("frame {} cannot be converted to RGB", out_.info.decoded_frames - 1));
  sws_scale(sws_, f->data, f->linesize, 0, f->height, rgb_->data, rgb_->linesize);
  Result r = hash_rgb(rgb_->data[0], out_.info.width, out_.info.height,
                      static_cast<size_t>(rgb_->linesize[0]), ws_);
  VideoFrame vf;
  vf.frame_number = static_cast<int>(out_.info.decoded_frames - 1);
  vf.quality = r.quality;
  vf.hash = r.hash;
  vf.timestamp = static_cast<float>(vf.frame_number) / fps_;
  out_.frames.push_back(vf);
}

void Decoder::receive() {
  for (;;) {
    int err = avcodec_receive_frame(codec_.get(), frame_.get());
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    if (err < 0) {
      ++out_.info.damaged_packets;
      return;
    }
    if (++out_.info.decoded_frames > opts_.max_frames)
      fail(fmt::format("decodes to more than the {} frames allowed", opts_.max_frames));
    int64_t n = static_cast<int64_t>(out_.info.decoded_frames - 1);
    if (n % frame_mod_ == 0) hash_frame();
    av_frame_unref(frame_.get());
  }
}

void Decoder::send(const AVPacket* pkt) {
  int err = avcodec_send_packet(codec_.get(), pkt);
  if (err < 0 && err != AVERROR_EOF) ++out_.info.damaged_packets;
  receive();
}

VideoHashes Decoder::run() {
  std::unique_ptr<AVPacket, PacketDeleter> pkt(av_packet_alloc());
  if (!pkt) fail("out of memory for a packet");
  for (;;) {
    int err = av_read_frame(fmt_.get(), pkt.get());
    if (err < 0) break;  // the end, or damage the demuxer cannot pass: decode what was read
    if (pkt->stream_index == stream_) send(pkt.get());
    av_packet_unref(pkt.get());
  }
  send(nullptr);  // drain the decoder
  if (oversize_)
    fail(
        fmt::format("a frame of its video stream claims {}x{} pixels, more than the {} a side "
                    "and {} in all allowed",
                    oversize_->first, oversize_->second, opts_.max_side, opts_.max_pixels));
  if (out_.info.decoded_frames == 0)
    fail(out_.info.damaged_packets ? "no frame of its video stream could be decoded"
                                   : "its video stream holds no frame");
  return std::move(out_);
}

}  // namespace

VideoHashes hash_video(const ReadAt& read, uint64_t size, std::string_view name,
                       const VideoOptions& opts) {
  Decoder d(read, size, name, opts);
  return d.run();
}

VideoHashes hash_video(std::span<const uint8_t> data, std::string_view name,
                       const VideoOptions& opts) {
  ReadAt read = [data](uint64_t off, uint8_t* buf, size_t n) -> int64_t {
    if (off >= data.size()) return 0;
    size_t k = std::min<size_t>(n, data.size() - static_cast<size_t>(off));
    std::memcpy(buf, data.data() + off, k);
    return static_cast<int64_t>(k);
  };
  return hash_video(read, data.size(), name, opts);
}

VideoHashes hash_video_file(const std::filesystem::path& path, const VideoOptions& opts,
                            std::string_view name) {
  const std::string shown = name.empty() ? path.string() : std::string(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw VideoError(fmt::format("{}: cannot be opened ({})", shown, std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0)
    throw VideoError(
        fmt::format("{}: its size cannot be read ({})", path.string(), std::strerror(errno)));
  ReadAt read = [fd](uint64_t off, uint8_t* buf, size_t n) -> int64_t {
    for (;;) {
      ssize_t k = ::pread(fd, buf, n, static_cast<off_t>(off));
      if (k >= 0 || errno != EINTR) return k;
    }
  };
  return hash_video(read, static_cast<uint64_t>(size), shown, opts);
}

std::string format_vpdq(const std::vector<VideoFrame>& frames) {
  std::string out;
  for (const auto& f : frames)
    out += fmt::format("{},{},{},{:.3f}\n", f.frame_number, f.quality, f.hash.hex(), f.timestamp);
  return out;
}

namespace {

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t b = 0;
  for (;;) {
    size_t e = s.find(',', b);
    parts.push_back(s.substr(b, e == std::string_view::npos ? e : e - b));
    if (e == std::string_view::npos) return parts;
    b = e + 1;
  }
}

template <class T>
bool parse_number(std::string_view s, T& v) {
  if (s.empty()) return false;
  std::istringstream is{std::string(s)};
  is >> v;
  return !is.fail() && is.eof();
}

std::optional<VideoFrame> parse_line(std::string_view line) {
  auto parts = split_commas(line);
  if (parts.size() != 4) return std::nullopt;
  VideoFrame f;
  auto h = parse_hash(parts[2]);
  if (!h || !parse_number(parts[0], f.frame_number) || !parse_number(parts[1], f.quality) ||
      !parse_number(parts[3], f.timestamp))
    return std::nullopt;
  if (f.frame_number < 0 || f.quality < 0 || f.quality > 100 || !std::isfinite(f.timestamp) ||
      f.timestamp < 0)
    return std::nullopt;
  f.hash = *h;
  return f;
}

}  // namespace

std::vector<VideoFrame> parse_vpdq(std::istream& in, std::string_view name, size_t max_frames) {
  std::vector<VideoFrame> out;
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    auto f = parse_line(line);
    if (!f)
      throw std::runtime_error(fmt::format(
          "{}: line {}: not a vPDQ frame (frame_number,quality,pdq_hex,timestamp)", name, n));
    if (out.size() == max_frames)
      throw std::runtime_error(fmt::format("{}: more than {} frames", name, max_frames));
    out.push_back(*f);
  }
  if (out.empty()) throw std::runtime_error(fmt::format("{}: holds no vPDQ frame", name));
  return out;
}

std::vector<VideoFrame> load_vpdq(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot be opened", path.string()));
  return parse_vpdq(in, path.string());
}

namespace {

// vpdq_util.dedupe then quality_filter: the first frame of each distinct hash, quality >= q.
std::vector<Hash> prepare(const std::vector<VideoFrame>& frames, int quality) {
  std::set<std::array<uint16_t, 16>> seen;
  std::vector<Hash> out;
  for (const auto& f : frames)
    if (seen.insert(f.hash.w).second && f.quality >= quality) out.push_back(f.hash);
  return out;
}

size_t found_in(const std::vector<Hash>& a, const std::vector<Hash>& b, int distance) {
  size_t n = 0;
  for (const auto& x : a)
    for (const auto& y : b)
      if (hamming(x, y) <= distance) {
        ++n;
        break;
      }
  return n;
}

}  // namespace

VideoMatch match_videos(const std::vector<VideoFrame>& query, const std::vector<VideoFrame>& target,
                        int distance, int quality, double query_percent, double target_percent) {
  VideoMatch m;
  auto q = prepare(query, quality), t = prepare(target, quality);
  m.query_frames = q.size();
  m.target_frames = t.size();
  if (q.empty() || t.empty()) return m;  // nothing comparable: no match
  m.query_percent =
      static_cast<double>(found_in(q, t, distance)) * 100.0 / static_cast<double>(q.size());
  m.target_percent =
      static_cast<double>(found_in(t, q, distance)) * 100.0 / static_cast<double>(t.size());
  m.match = m.query_percent >= query_percent && m.target_percent >= target_percent;
  return m;
}

}  // namespace safehold::pdq
