require "fileinto";
if header :contains "subject" "Grüße" { fileinto "decoded-2047"; }
if header :contains "from" "Böse" { fileinto "decoded-from"; }
if address :is "to" "user@example.test" { fileinto "to-mixed-case"; }
