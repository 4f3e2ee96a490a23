-- Search asks "is this article published?" for every hit: an index answers without
-- reading the article (whose status sits after its bodies).
CREATE INDEX kb_articles_status_id ON kb_articles (status, id);
