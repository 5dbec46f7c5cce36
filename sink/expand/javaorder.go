package expand

import "github.com/pulsar-kinesis/kinesis-sink/internal/javamap"

// javaPropertiesOrder is the order in which the Java sink writes record
// properties: Pulsar collects the wire list into a HashMap with merge, and
// JsonRecord.addProperty re-puts that map's entries into a new HashMap.
// keys are in wire order and distinct.
func javaPropertiesOrder(keys javamap.StringKeys) []int32 {
	n := len(keys)
	if n <= 1 {
		return javamap.PutOrder(keys, n, -1, nil)
	}
	var m javamap.Map
	mid := m.MergeOrder(keys, n, make([]int32, 0, n))
	// Re-put in the first map's iteration order.
	reordered := make(javamap.StringKeys, n)
	for i, k := range mid {
		reordered[i] = keys[k]
	}
	final := m.PutOrder(reordered, n, -1, make([]int32, 0, n))
	for i, k := range final {
		final[i] = mid[k]
	}
	return final
}
