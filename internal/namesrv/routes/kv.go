package routes

import "maps"

// NamespaceOrderTopicConfig is the KV namespace of order-topic configs; a
// REGISTER_BROKER response carries its list.
const NamespaceOrderTopicConfig = "ORDER_TOPIC_CONFIG"

// PutKV sets key in namespace (PUT_KV_CONFIG).
func (t *Table) PutKV(namespace, key, value string) {
	m := t.kv[namespace]
	if m == nil {
		m = make(map[string]string)
		t.kv[namespace] = m
	}
	m[key] = value
}

// KV returns the value of key in namespace (GET_KV_CONFIG).
func (t *Table) KV(namespace, key string) (string, bool) {
	v, ok := t.kv[namespace][key]
	return v, ok
}

// DeleteKV removes key from namespace (DELETE_KV_CONFIG). The namespace
// stays, possibly empty, as in RocketMQ.
func (t *Table) DeleteKV(namespace, key string) {
	delete(t.kv[namespace], key)
}

// KVList returns a copy of namespace, and false when it was never written
// (GET_KVLIST_BY_NAMESPACE).
func (t *Table) KVList(namespace string) (map[string]string, bool) {
	m, ok := t.kv[namespace]
	if !ok {
		return nil, false
	}
	return maps.Clone(m), true
}
