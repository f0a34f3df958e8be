package policies

import "reflect"

// CheckFields reports every field of the JSON document js that the JSON
// shape of t does not know, each with its path (e.g.
// "servers[2].policy.netwrk: unknown field"). Files that embed policy
// fields, such as drydock mirror's catalog, use it so that every drydock
// file refuses unknown fields the same way.
func CheckFields(js []byte, t reflect.Type) error { return checkFields(js, t) }
