package com.google.common.cache;

// Stub of Guava's Cache for the conformance harness: SelectorParser caches
// parse results, and the harness wants none of that.
public interface Cache<K, V> {
  V getIfPresent(Object k);

  void put(K k, V v);

  void cleanUp();
}
