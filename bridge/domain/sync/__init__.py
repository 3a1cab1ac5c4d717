"""The sync's pure side: who should be in Keycloak (desired state) and the plan that gets it there."""
