// The few vector operations the per-ISA kernels need, for the vector width of the including
// kernel set (VAESTUDIO_VECTOR_BYTES, see isa_kernels.h). Included once per kernel set, inside
// that set's namespace: Simd<float> of the avx2 set is a 32-byte vector, of the avx512 set a
// 64-byte one. GCC/Clang get vector extensions (the compiler emits the set's instructions under its
// target attribute); other compilers (MSVC) get PlainVector, fixed-size arrays with loops.
//
// Operations: load / store (unaligned), a + b, a - b, scalar * a, a += b, less(a, b) (a lane mask),
// select(mask, a, b), min_lane(a) (the smallest lane), and lane access v[j].

template <typename T>
struct Simd;

#if defined(VAESTUDIO_VECTOR_EXTENSIONS)

template <>
struct Simd<float> {
  typedef float vector __attribute__((vector_size(VAESTUDIO_VECTOR_BYTES)));
  typedef int32_t index_vector __attribute__((vector_size(VAESTUDIO_VECTOR_BYTES)));
  typedef int32_t index;
  static constexpr int lanes = VAESTUDIO_VECTOR_BYTES / 4;
};
template <>
struct Simd<double> {
  typedef double vector __attribute__((vector_size(VAESTUDIO_VECTOR_BYTES)));
  typedef int64_t index_vector __attribute__((vector_size(VAESTUDIO_VECTOR_BYTES)));
  typedef int64_t index;
  static constexpr int lanes = VAESTUDIO_VECTOR_BYTES / 8;
};

template <typename V>
VAESTUDIO_ISA_INLINE auto less(const V& a, const V& b) {
  return a < b;
}
template <typename M, typename V>
VAESTUDIO_ISA_INLINE V select(const M& mask, const V& a, const V& b) {
  return mask ? a : b;
}

#else  // plain C++: fixed-size arrays

template <typename T, int N>
struct PlainVector {
  T lane[N];
  T& operator[](int j) { return lane[j]; }
  const T& operator[](int j) const { return lane[j]; }
  PlainVector& operator+=(const PlainVector& other) {
    for (int j = 0; j < N; ++j) lane[j] += other.lane[j];
    return *this;
  }
  friend PlainVector operator+(PlainVector a, const PlainVector& b) { return a += b; }
  friend PlainVector operator-(PlainVector a, const PlainVector& b) {
    for (int j = 0; j < N; ++j) a.lane[j] -= b.lane[j];
    return a;
  }
  friend PlainVector operator*(T scalar, PlainVector a) {
    for (int j = 0; j < N; ++j) a.lane[j] *= scalar;
    return a;
  }
  friend PlainVector operator+(PlainVector a, T scalar) {
    for (int j = 0; j < N; ++j) a.lane[j] += scalar;
    return a;
  }
};

template <>
struct Simd<float> {
  static constexpr int lanes = VAESTUDIO_VECTOR_BYTES / 4;
  typedef PlainVector<float, lanes> vector;
  typedef PlainVector<int32_t, lanes> index_vector;
  typedef int32_t index;
};
template <>
struct Simd<double> {
  static constexpr int lanes = VAESTUDIO_VECTOR_BYTES / 8;
  typedef PlainVector<double, lanes> vector;
  typedef PlainVector<int64_t, lanes> index_vector;
  typedef int64_t index;
};

template <typename T, int N>
inline PlainVector<bool, N> less(const PlainVector<T, N>& a, const PlainVector<T, N>& b) {
  PlainVector<bool, N> mask;
  for (int j = 0; j < N; ++j) mask.lane[j] = a.lane[j] < b.lane[j];
  return mask;
}
template <typename T, int N>
inline PlainVector<T, N> select(const PlainVector<bool, N>& mask, const PlainVector<T, N>& a,
                                const PlainVector<T, N>& b) {
  PlainVector<T, N> out;
  for (int j = 0; j < N; ++j) out.lane[j] = mask.lane[j] ? a.lane[j] : b.lane[j];
  return out;
}

#endif

template <typename T>
VAESTUDIO_ISA_INLINE typename Simd<T>::vector load(const T* source) {
  typename Simd<T>::vector value;
  std::memcpy(&value, source, sizeof(value));
  return value;
}
template <typename T>
VAESTUDIO_ISA_INLINE void store(T* target, const typename Simd<T>::vector& value) {
  std::memcpy(target, &value, sizeof(value));
}
template <typename T>
VAESTUDIO_ISA_INLINE typename Simd<T>::vector broadcast(T value) {
  typename Simd<T>::vector out{};
  for (int j = 0; j < Simd<T>::lanes; ++j) out[j] = value;
  return out;
}
template <typename T>
VAESTUDIO_ISA_INLINE T min_lane(const typename Simd<T>::vector& value) {
  T smallest = value[0];
  for (int j = 1; j < Simd<T>::lanes; ++j) smallest = value[j] < smallest ? value[j] : smallest;
  return smallest;
}
