#pragma once
// A sorted-vector map for the small string maps of Kubernetes objects (labels, annotations,
// resource lists): a handful of entries each, read far more often than written, and decoded by
// the hundred thousand from a LIST. One allocation per map instead of one per entry, entries
// contiguous in memory, and appending in key order (how Go writes maps) is O(1).
//
// The interface is std::map's, minus node handles, so code reads the same. Unlike std::map,
// inserting or erasing invalidates iterators and references to other entries. value_type is a
// pair<Key, Value> whose key must not be changed through an iterator.

#include <algorithm>
#include <compare>
#include <initializer_list>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

namespace fairway {

template <typename Key, typename Value>
class FlatMap {
 public:
  using key_type = Key;
  using mapped_type = Value;
  using value_type = std::pair<Key, Value>;
  using container_type = std::vector<value_type>;
  using iterator = typename container_type::iterator;
  using const_iterator = typename container_type::const_iterator;
  using size_type = size_t;

  FlatMap() = default;
  FlatMap(std::initializer_list<value_type> entries) {
    for (const auto& entry : entries) insert_or_assign(entry.first, entry.second);
  }
  template <typename It>
  FlatMap(It first, It last) {
    for (; first != last; ++first) insert_or_assign(first->first, first->second);
  }

  iterator begin() { return entries_.begin(); }
  iterator end() { return entries_.end(); }
  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  const_iterator cbegin() const { return entries_.begin(); }
  const_iterator cend() const { return entries_.end(); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void clear() { entries_.clear(); }
  void reserve(size_t n) { entries_.reserve(n); }

  template <typename K>
  iterator lower_bound(const K& key) {
    return std::lower_bound(entries_.begin(), entries_.end(), key, KeyLess{});
  }
  template <typename K>
  const_iterator lower_bound(const K& key) const {
    return std::lower_bound(entries_.begin(), entries_.end(), key, KeyLess{});
  }
  template <typename K>
  iterator upper_bound(const K& key) {
    return std::upper_bound(entries_.begin(), entries_.end(), key, KeyGreater{});
  }
  template <typename K>
  const_iterator upper_bound(const K& key) const {
    return std::upper_bound(entries_.begin(), entries_.end(), key, KeyGreater{});
  }
  template <typename K>
  iterator find(const K& key) {
    auto it = lower_bound(key);
    return it != end() && !(key < it->first) ? it : end();
  }
  template <typename K>
  const_iterator find(const K& key) const {
    auto it = lower_bound(key);
    return it != end() && !(key < it->first) ? it : end();
  }
  template <typename K>
  bool contains(const K& key) const {
    return find(key) != end();
  }
  template <typename K>
  size_t count(const K& key) const {
    return contains(key) ? 1 : 0;
  }
  template <typename K>
  const Value& at(const K& key) const {
    auto it = find(key);
    if (it == end()) throw std::out_of_range("FlatMap::at: no such key");
    return it->second;
  }
  template <typename K>
  Value& at(const K& key) {
    auto it = find(key);
    if (it == end()) throw std::out_of_range("FlatMap::at: no such key");
    return it->second;
  }
  template <typename K>
  Value& operator[](K&& key) {
    return try_emplace(std::forward<K>(key)).first->second;
  }

  // Inserts when the key is absent; returns the entry and whether it was inserted.
  template <typename K, typename... Args>
  std::pair<iterator, bool> try_emplace(K&& key, Args&&... args) {
    auto it = append_position(key);
    if (it != end() && !(key < it->first)) return {it, false};
    it = entries_.emplace(it, std::piecewise_construct, std::forward_as_tuple(std::forward<K>(key)),
                          std::forward_as_tuple(std::forward<Args>(args)...));
    return {it, true};
  }
  template <typename K, typename V>
  std::pair<iterator, bool> emplace(K&& key, V&& value) {
    return try_emplace(std::forward<K>(key), std::forward<V>(value));
  }
  std::pair<iterator, bool> insert(value_type entry) {
    return try_emplace(std::move(entry.first), std::move(entry.second));
  }
  // The hint is ignored beyond the common case it exists for: appending in key order.
  template <typename K, typename V>
  iterator emplace_hint(const_iterator /*hint*/, K&& key, V&& value) {
    return try_emplace(std::forward<K>(key), std::forward<V>(value)).first;
  }
  template <typename K, typename V>
  std::pair<iterator, bool> insert_or_assign(K&& key, V&& value) {
    auto [it, inserted] = try_emplace(std::forward<K>(key), std::forward<V>(value));
    if (!inserted) it->second = std::forward<V>(value);
    return {it, inserted};
  }

  iterator erase(iterator it) { return entries_.erase(it); }
  iterator erase(const_iterator it) { return entries_.erase(it); }
  template <typename K>
  size_t erase(const K& key) {
    auto it = find(key);
    if (it == end()) return 0;
    entries_.erase(it);
    return 1;
  }
  template <typename Pred>
  friend size_t erase_if(FlatMap& map, Pred pred) {
    return std::erase_if(map.entries_, pred);
  }

  friend bool operator==(const FlatMap&, const FlatMap&) = default;
  friend auto operator<=>(const FlatMap& a, const FlatMap& b) { return a.entries_ <=> b.entries_; }

 private:
  struct KeyLess {
    template <typename K>
    bool operator()(const value_type& entry, const K& key) const {
      return entry.first < key;
    }
  };
  struct KeyGreater {
    template <typename K>
    bool operator()(const K& key, const value_type& entry) const {
      return key < entry.first;
    }
  };
  // Where `key` belongs: the end when it sorts after every key (no search), else its lower bound.
  template <typename K>
  iterator append_position(const K& key) {
    if (entries_.empty() || entries_.back().first < key) return entries_.end();
    return lower_bound(key);
  }

  container_type entries_;
};

// JSON (nlohmann, found by argument-dependent lookup): an object, as a std::map would be, not an
// array of pairs. Templated on the JSON type so the core does not include nlohmann.
template <typename Json, typename Value>
void to_json(Json& json, const FlatMap<typename Json::string_t, Value>& map) {
  json = Json::object();
  for (const auto& [key, value] : map) json[key] = value;
}
template <typename Json, typename Value>
void from_json(const Json& json, FlatMap<typename Json::string_t, Value>& map) {
  map.clear();
  for (auto it = json.begin(); it != json.end(); ++it) {
    map.insert_or_assign(it.key(), it.value().template get<Value>());
  }
}

}  // namespace fairway
