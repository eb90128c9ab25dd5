//go:build !race

package fsbackend

// raceEnabled is true when the tests run under the race detector, where
// sync.Pool drops items at random and allocation counts mean nothing.
const raceEnabled = false
