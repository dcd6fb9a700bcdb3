require ["fileinto"];
if exists "List-Id" { fileinto "included-list"; stop; }
