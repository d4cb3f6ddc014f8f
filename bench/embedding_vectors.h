// Real embeddings for the store benchmark: the vectors `imgsearch embed` printed (one line
// per image: path, model, then the floats separated by spaces), repeated with small noise
// to reach the size a benchmark needs, because quantisation behaves differently on real
// distributions than on random ones.
#pragma once

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace imgsearch::bench {

// The vectors of an `imgsearch embed` output file; *dim is set from the first line. Lines
// of another dimension are skipped.
inline std::vector<float> ReadEmbedOutput(const std::string& path, int* dim) {
  std::ifstream in(path);
  std::vector<float> out;
  *dim = 0;
  for (std::string line; std::getline(in, line);) {
    size_t tab = line.find('\t');
    tab = tab == std::string::npos ? tab : line.find('\t', tab + 1);
    if (tab == std::string::npos) continue;
    std::istringstream values(line.substr(tab + 1));
    std::vector<float> v;
    for (float x; values >> x;) v.push_back(x);
    if (*dim == 0) *dim = static_cast<int>(v.size());
    if (static_cast<int>(v.size()) == *dim) out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// n vectors: the distinct `base` vectors in turn, each copy moved by Gaussian noise of
// `relative` times the vector's own RMS component, so copies are near but not equal.
inline std::vector<float> RepeatWithNoise(const std::vector<float>& base, int dim, size_t n,
                                          float relative, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  size_t distinct = base.size() / dim;
  std::vector<float> out(n * dim);
  for (size_t i = 0; i < n; ++i) {
    const float* v = &base[(i % distinct) * dim];
    double sum = 0;
    for (int d = 0; d < dim; ++d) sum += double(v[d]) * v[d];
    float sigma = relative * static_cast<float>(std::sqrt(sum / dim));
    for (int d = 0; d < dim; ++d) out[i * dim + d] = v[d] + sigma * g(rng);
  }
  return out;
}

}  // namespace imgsearch::bench
