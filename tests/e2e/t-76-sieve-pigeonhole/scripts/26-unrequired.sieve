fileinto "NeedsRequire";
