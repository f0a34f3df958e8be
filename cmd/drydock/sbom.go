package main

const sbomFormatHelp = `SBOM attestation format: spdx (SPDX 2.3 JSON, predicate https://spdx.dev/Document; cosign verify-attestation --type spdxjson) or cyclonedx (CycloneDX JSON, https://cyclonedx.org/bom; --type cyclonedx)`
