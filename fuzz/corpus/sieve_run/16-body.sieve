require ["body", "fileinto"];
if body :contains "banana" { fileinto "body-banana"; }
if body :contains "kiwi" { fileinto "body-kiwi-text"; }
if body :raw :contains "c2VjcmV0IGtpd2k" { fileinto "body-raw"; }
if body :content "application" :contains "kiwi" { fileinto "body-content-app"; }
if body :text :contains "cheap pills" { fileinto "body-spam"; }
if body :contains "Café" { fileinto "body-latin1"; }
