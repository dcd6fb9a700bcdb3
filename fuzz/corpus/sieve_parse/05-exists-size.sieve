require "fileinto";
if exists ["List-Id", "Precedence"] { fileinto "has-list"; }
if not exists "Message-ID" { fileinto "no-mid"; }
if size :over 500 { fileinto "big"; } elsif size :under 300 { fileinto "small"; } else { fileinto "medium"; }
