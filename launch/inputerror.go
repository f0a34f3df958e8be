package launch

import "github.com/drydock-dev/drydock/internal/inputerr"

// InputError is a problem with inputs the caller gave or left out. It names
// each input by its place in this package's API (WithVerifier, mount, env,
// client), never by a CLI flag: a CLI renders it with its own flag names
// (Render). It is the same type as attest's, build's and mirror's
// InputError.
type InputError = inputerr.Error
